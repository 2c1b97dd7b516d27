"""Read the records of an offline W&B run (`run-*.wandb`, a LevelDB-style log of protobufs).

Offline runs keep their config, metrics and artifacts only in this log, so tests read it here.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2

HEADER = 7  # ":W&B", a 2-byte magic and a version byte
BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: str | Path) -> list[wandb_internal_pb2.Record]:
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run log"
    out, pending, pos = [], b"", HEADER
    while pos + 7 <= len(data):
        room = BLOCK - pos % BLOCK
        if room < 7:  # the block's tail is padding
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == 0 and kind == 0:
            pos += room
            continue
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            out.append(record)
    return out


def run_contents(path: str | Path) -> dict[str, set[str]]:
    """Keys of the config, history and summary, and the artifacts (name:type) logged in one run."""
    found: dict[str, set[str]] = {
        "config": set(),
        "history": set(),
        "summary": set(),
        "artifacts": set(),
    }
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            found["config"] |= {item.key for item in record.run.config.update}
        elif kind == "config":
            found["config"] |= {item.key for item in record.config.update}
        elif kind == "history":
            found["history"] |= {
                item.key or "/".join(item.nested_key) for item in record.history.item
            }
        elif kind == "summary":
            found["summary"] |= {
                item.key or "/".join(item.nested_key) for item in record.summary.update
            }
        elif kind == "artifact":
            found["artifacts"].add(f"{record.artifact.name}:{record.artifact.type}")
    return found


def run_header(path: str | Path) -> dict:
    """The run's id, name, group, job type and tags, and its final config (decoded JSON)."""
    header, config = None, {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            header = {
                "id": run.run_id,
                "name": run.display_name,
                "group": run.run_group,
                "job_type": run.job_type,
                "tags": list(run.tags),
            }
            config |= {item.key: json.loads(item.value_json) for item in run.config.update}
        elif kind == "config":
            config |= {item.key: json.loads(item.value_json) for item in record.config.update}
    assert header is not None, f"{path} holds no run record"
    return header | {"config": config}


def history_column(path: str | Path, key: str) -> list:
    """The values logged under `key`, in logging order."""
    values = []
    for record in records(path):
        if record.WhichOneof("record_type") == "history":
            for item in record.history.item:
                if (item.key or "/".join(item.nested_key)) == key:
                    values.append(json.loads(item.value_json))
    return values


VARIANT_AND_INIT_NAMES = ("vanilla", "perceiver", "scratch", "pretrained")


def check_stage_records(logs: list[Path], *, setting: str, seed: int) -> list[dict]:
    """Assert that each stage's run says what ran and shares its metric keys with the runs of
    its kind; return the runs' headers."""
    headers = [run_header(log) for log in logs]
    assert len({h["name"] for h in headers}) == len(headers), "run names are not unique"
    for log, header in zip(logs, headers, strict=True):
        config, contents = header["config"], run_contents(log)
        variant, init, stage = config["variant"], config["init"], config["stage"]
        assert header["group"] == config["setting"] == setting
        assert config["seed"] == seed and stage == header["job_type"]
        assert config["git"].keys() == {"commit", "dirty"} and config["data_fingerprint"]
        assert config["model"]["variant"] == variant
        if variant is not None:
            assert variant in header["tags"] and header["name"].startswith(f"{stage}-{variant}")
            # that variant's sizes only: the perceiver's own keys are not on a vanilla run
            assert ("bottleneck_dim" in config["model"]) == (variant == "perceiver")
        if init is not None:
            assert init in header["tags"]
        keys = contents["history"] | contents["summary"]
        named = [k for k in keys if any(word in k for word in VARIANT_AND_INIT_NAMES)]
        assert not named, f"metric keys name a variant or init: {named}"
        if stage in ("pretrain", "finetune"):
            assert {"train/loss", "train/lr", "train/tokens_per_sec", "train/epoch"} <= keys
            assert "trainer/global_step" in keys
        if stage in ("evaluate", "baseline"):
            assert {"dev/accuracy", "dev/correct", "dev/total"} <= contents["summary"]
        if stage == "evaluate":
            assert "test/total" in contents["summary"]
            assert f"{variant}-{init}-predictions:predictions" in contents["artifacts"]
    return headers
