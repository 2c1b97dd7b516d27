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
