"""One pipeline run on a page: the rows of its summary table, read from the stages' metrics files,
as Markdown, and its training and accuracy figures."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from knowledge_probe.data.errors import DataFormatError  # noqa: E402
from knowledge_probe.io import write_with  # noqa: E402

# The reference implementation's dev accuracy on the real data (data=cs224n), one seed on an H200:
# what a run on that data is compared with. It reported no perceiver trained from scratch.
REFERENCE_DEV_ACCURACY = {
    ("vanilla", "pretrained"): 0.258,
    ("perceiver", "pretrained"): 0.070,
    ("vanilla", "scratch"): 0.014,
    ("majority", "-"): 0.050,
}
REFERENCE_LABEL = "reference (H200)"
REFERENCE_TIMES = (
    "The reference on one H200 that three runs shared: 650-epoch pretraining 444 s (vanilla) and "
    "357 s (perceiver), finetuning 7 s (51 s from scratch), decoding the 500 dev questions 26-29 s."
)


def with_reference(rows: list[dict]) -> list[dict]:
    """Each row with the reference's figure for the same model and init (None where it has none)."""
    return [
        row | {"reference": REFERENCE_DEV_ACCURACY.get((row["model"].split()[0], row["init"]))}
        for row in rows
    ]


def read_metrics(path: Path) -> dict:
    """A stage's metrics file, or {} when the stage has not run."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataFormatError(
            path,
            getattr(err, "lineno", None),
            f"damaged metrics file ({err})",
            "rerun the stage that writes it (`dvc repro -f STAGE`)",
        ) from None


def collect(metrics_dir: Path, variants: Iterable[str], inits: Iterable[str]) -> list[dict]:
    """One row per variant x init (training time = pretraining + finetuning), then the baseline."""
    rows = []
    for variant in variants:
        pretrain = read_metrics(metrics_dir / "pretrain" / f"{variant}.json")
        for init in inits:
            name = f"{variant}-{init}"
            evaluation = read_metrics(metrics_dir / "eval" / f"{name}.json")
            finetune = read_metrics(metrics_dir / "finetune" / f"{name}.json")
            if not evaluation:
                continue
            seconds = finetune.get("seconds", 0.0) + (
                pretrain.get("seconds", 0.0) if init == "pretrained" else 0.0
            )
            rows.append(
                {
                    "model": variant,
                    "init": init,
                    "accuracy": evaluation["accuracy"],
                    "correct": evaluation["correct"],
                    "total": evaluation["total"],
                    "parameters": finetune.get("parameters"),
                    "train_seconds": round(seconds, 1),
                    "tokens_per_sec": (pretrain if init == "pretrained" else finetune).get(
                        "tokens_per_sec"
                    ),
                }
            )
    baseline = read_metrics(metrics_dir / "baseline.json")
    if baseline:
        rows.append(
            {
                "model": f"majority ({baseline['place']})",
                "init": "-",
                "accuracy": baseline["accuracy"],
                "correct": baseline["correct"],
                "total": baseline["total"],
                "parameters": 0,
                "train_seconds": 0.0,
                "tokens_per_sec": None,
            }
        )
    return rows


def has_reference(rows: list[dict]) -> bool:
    """Whether the rows come from `with_reference`, so a table shows the reference's column."""
    return any("reference" in r for r in rows)


def reference_cell(row: dict) -> str:
    return "-" if row.get("reference") is None else f"{row['reference']:.1%}"


# per model stage: where its metrics are, and the key that holds the seconds of its work
MODEL_STAGE_SECONDS = (("finetune", "finetune", "seconds"), ("evaluate", "eval", "decode_seconds"))


def stage_times(metrics_dir: Path, variants: Iterable[str], inits: Iterable[str]) -> dict:
    """Seconds each model stage spent on its work (training, or decoding the dev questions), by
    the stage's name in dvc.yaml; stages that have not run are left out."""
    times = {}
    for variant in variants:
        pretrain = read_metrics(metrics_dir / "pretrain" / f"{variant}.json")
        if pretrain:
            times[f"pretrain@{variant}"] = pretrain["seconds"]
    for stage, folder, key in MODEL_STAGE_SECONDS:
        for name in (f"{variant}-{init}" for variant in variants for init in inits):
            found = read_metrics(metrics_dir / folder / f"{name}.json")
            if key in found:
                times[f"{stage}@{name}"] = found[key]
    return times


def times_markdown(times: dict, reference: bool) -> str:
    lines = ["| stage | seconds |", "| --- | ---: |"]
    lines += [f"| {stage} | {seconds:.1f} |" for stage, seconds in times.items()]
    return "\n".join(lines) + "\n" + (f"\n{REFERENCE_TIMES}\n" if reference else "")


def markdown(rows: list[dict]) -> str:
    """The summary table; rows from `with_reference` get the reference's column."""
    reference = has_reference(rows)
    lines = [
        "| model | init | dev accuracy | correct/total | parameters | training time (s) | tokens/s |"
        + (f" {REFERENCE_LABEL} |" if reference else ""),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if reference else ""),
    ]
    for r in rows:
        speed = f"{r['tokens_per_sec']:,.0f}" if r["tokens_per_sec"] else "-"
        lines.append(
            f"| {r['model']} | {r['init']} | {r['accuracy']:.1%} | {r['correct']}/{r['total']} | "
            f"{r['parameters'] or 0:,} | {r['train_seconds']:.1f} | {speed} |"
            + (f" {reference_cell(r)} |" if reference else "")
        )
    return "\n".join(lines) + "\n"


def _curve(path: Path) -> tuple[list[float], list[float]]:
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [float(r["step"]) for r in rows], [float(r["loss"]) for r in rows]


def plot_curves(plots_dir: Path, target: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, stage in zip(axes, ("pretrain", "finetune"), strict=True):
        for path in sorted((plots_dir / stage).glob("*.csv")):
            steps, losses = _curve(path)
            ax.plot(steps, losses, label=path.stem)
        ax.set(title=f"{stage} loss", xlabel="step", ylabel="cross-entropy", yscale="log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    write_with(target, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def plot_accuracy(rows: list[dict], target: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = [f"{r['model']}\n{r['init']}" for r in rows]
    ax.bar(
        labels,
        [100 * r["accuracy"] for r in rows],
        color=["C0", "C1", "C2", "C3", "C7"][: len(rows)],
    )
    ax.set(ylabel="dev accuracy (%)", title="Exact-match accuracy on dev")
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    write_with(target, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
