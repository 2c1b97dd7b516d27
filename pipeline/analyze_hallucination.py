"""Stage `analyze_hallucination`: what each finetuned model answers about people who do not exist,
and its dev accuracy split by whether pretraining could have shown it the answer."""

from __future__ import annotations

import statistics
from pathlib import Path

import torch

from knowledge_probe.analysis import hallucination as h
from knowledge_probe.analysis.figures import hallucination_figures
from knowledge_probe.analysis.threads import torch_threads
from knowledge_probe.data import max_truncation
from knowledge_probe.evaluation import format_records, predict, read_predictions
from knowledge_probe.io import write_json, write_text
from knowledge_probe.models.gpt import VARIANTS
from knowledge_probe.training import CheckpointError, load_model
from pipeline.command import run_stage_command
from pipeline.configs import model_config
from pipeline.prepared import read_prepared
from pipeline.runtime import configure_precision
from pipeline.stages import INITS
from pipeline.tracked import tracked_stage


def ask_strangers(cfg, data, people, place_country, name, model) -> tuple[dict, list]:
    """One model's answers for the strangers, their probabilities, and what they follow."""
    section = cfg.analysis.hallucination
    strangers = h.strangers(
        section.strangers,
        int(cfg.seed),
        corpus=data.corpus,
        people=people,
        questions=data.train + data.dev + data.test,
        vocab=data.vocab,
        block_size=model.config.block_size,
    )
    questions = [s.question for s in strangers]
    options = dict(
        batch_size=cfg.evaluate.batch_size,
        max_new=cfg.evaluate.max_new,
        plain=cfg.decode == "plain",
        progress=False,
    )
    answers = predict(model, data.vocab, questions, **options)
    confidence = h.answer_probabilities(model, data.vocab, questions, answers)
    dev_answers = read_predictions(Path(cfg.paths.predictions) / f"{name}.dev.tsv", data.dev)
    dev_confidence = h.answer_probabilities(model, data.vocab, data.dev, dev_answers)
    known = set(place_country) or {q.place for q in data.train}
    result = {
        "choices": h.place_choices(answers, known),
        "confidence": {
            "strangers": statistics.median(confidence),
            "dev": statistics.median(dev_confidence),
        },
        "origin": h.origin_agreement(
            answers,
            [s.locale for s in strangers],
            place_country,
            permutations=section.permutations,
            seed=int(cfg.seed),
        )
        if place_country
        else None,
        "window": h.window_split(
            data.dev, dev_answers, data.corpus, max_truncation(model.config.block_size)
        ),
    }
    rows = [
        (s.name, s.locale, a, p) for s, a, p in zip(strangers, answers, confidence, strict=True)
    ]
    return result, rows


def run(cfg, context) -> dict:
    metrics_dir = Path(cfg.paths.metrics) / "analysis"
    with (
        tracked_stage(cfg, context, "analyze_hallucination") as (tracker, summary),
        torch_threads(cfg.analysis.threads),
    ):
        configure_precision(cfg)
        data = read_prepared(cfg)
        prepared = Path(cfg.paths.prepared)
        people = (
            h.read_people(prepared / "people.tsv") if (prepared / "people.tsv").is_file() else []
        )
        places = (
            h.read_places(prepared / "places.tsv") if (prepared / "places.tsv").is_file() else {}
        )
        device = "cuda" if torch.cuda.is_available() and cfg.trainer.accelerator == "gpu" else "cpu"
        models = {}
        for variant in VARIANTS:
            for init in INITS:
                source = Path(cfg.paths.models) / variant / init / "finetune.ckpt"
                if not source.is_file():
                    continue
                name = f"{variant}-{init}"
                model, _ = load_model(
                    source,
                    config=model_config(cfg, variant, len(data.vocab)),
                    vocab_fingerprint=data.vocab.fingerprint,
                )
                models[name], rows = ask_strangers(
                    cfg, data, people, places, name, model.to(device)
                )
                write_text(
                    metrics_dir / "strangers" / f"{name}.tsv",
                    format_records([(n, loc, a, f"{p:.4g}") for n, loc, a, p in rows]),
                )
        if not models:
            raise CheckpointError(
                f"no finetuned checkpoints under {cfg.paths.models}: run finetuning first "
                "(`dvc repro finetune`)"
            )
        window = max_truncation(int(cfg.model.block_size))
        verdicts = h.verdicts(models, window)
        training_rate = h.training_origin_rate(people, places) if places else None
        metrics = {
            "verdicts": {k: v.passed for k, v in verdicts.items()},
            "models": {
                name: {
                    "known_place": m["choices"]["known_place"],
                    "distinct_places": m["choices"]["distinct"],
                    "top_place_share": m["choices"]["top_share"],
                    "confidence_strangers": m["confidence"]["strangers"],
                    "confidence_dev": m["confidence"]["dev"],
                }
                | (
                    {
                        "origin_agreement": m["origin"]["agreement"],
                        "origin_chance": m["origin"]["chance"],
                        "origin_p_value": m["origin"]["p_value"],
                    }
                    if m["origin"]
                    else {}
                )
                | {f"dev_{g}_accuracy": m["window"][g]["accuracy"] for g in h.WINDOW_GROUPS}
                for name, m in models.items()
            },
            "training_origin_rate": training_rate,
        }
        write_json(metrics_dir / "hallucination.json", metrics)
        write_json(
            metrics_dir / "details" / "hallucination.json",
            {
                "strangers": cfg.analysis.hallucination.strangers,
                "window": window,
                "pretrain_window_option": cfg.pretrain.window,
                "training_origin_rate": training_rate,
                "models": models,
                "verdicts": {k: v.to_dict() for k, v in verdicts.items()},
            },
        )
        figures = hallucination_figures(models, Path(cfg.paths.plots) / "analysis")
        tracker.summary({f"analysis/hallucination/{k}": v for k, v in metrics["verdicts"].items()})
        tracker.log_images("analysis/hallucination", figures)
        summary.update(
            models=", ".join(models),
            known_place=", ".join(f"{m['choices']['known_place']:.0%}" for m in models.values()),
            wrote=f"{metrics_dir}/hallucination.json",
        )
    return metrics


def main() -> None:
    run_stage_command("analyze_hallucination", __doc__, run)


if __name__ == "__main__":
    main()
