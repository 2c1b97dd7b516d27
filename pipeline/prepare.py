"""Stage `prepare`: read the configured source, validate it, write data/prepared/ and its statistics."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from knowledge_probe.data import FILE_NAMES, Vocabulary, max_truncation, read_corpus, read_questions
from knowledge_probe.data.cs224n import DIGESTS, locate, sha256
from knowledge_probe.data.errors import DataFormatError
from knowledge_probe.data.synthetic import SyntheticSpec, generate
from knowledge_probe.io import write_json, write_text, write_with
from pipeline.cli import ConfigError
from pipeline.command import run_stage_command
from pipeline.records import data_fingerprint
from pipeline.tracked import tracked_stage


def source_files(data_cfg, scratch: Path) -> dict[str, Path]:
    """The four raw files by role: generated (synthetic) or located and verified (cs224n)."""
    if data_cfg.source == "synthetic":
        spec = SyntheticSpec(**{k: data_cfg[k] for k in SyntheticSpec.__dataclass_fields__})
        written = generate(spec).write(scratch)
        return {role: Path(written[role]) for role in FILE_NAMES} | {
            "people": Path(written["people"]),
            "places": Path(written["places"]),
        }
    if data_cfg.source in ("cs224n", "files"):  # the course's files, digests checked; or yours
        return locate(data_cfg.path, scratch, DIGESTS if data_cfg.source == "cs224n" else None)
    raise ConfigError(f"unknown data.source {data_cfg.source!r}; allowed: synthetic, cs224n, files")


def check_characters(path: Path, questions: list, vocab: Vocabulary) -> None:
    """Refuse questions with characters the corpus lacks, before any model sees them.

    The vocabulary comes from the corpus; a character outside it could not be encoded at
    evaluation time, so it is an error here (with the first line using each character).
    """
    first_use: dict[str, int] = {}
    for number, q in enumerate(questions, start=1):
        for char in vocab.missing(q.question + (q.place or "")):
            first_use.setdefault(char, number)
    if first_use:
        shown = ", ".join(f"{c!r} (U+{ord(c):04X}, line {n})" for c, n in sorted(first_use.items()))
        raise DataFormatError(
            path,
            min(first_use.values()),
            f"uses characters absent from the corpus: {shown}",
            "the vocabulary is built from the corpus, so fix the questions or add text with them",
        )


def statistics(corpus, train, dev, test, vocab, block_size: int) -> dict:
    """Corpus figures, including how many dev answers pretraining can see at all."""
    window = max_truncation(block_size)
    bios = {}
    for doc in corpus:
        bios.setdefault(doc.split(".")[0].strip(), doc)
    in_bio = in_window = 0
    for q in dev:
        bio = bios.get(q.name, "")
        in_bio += q.place in bio
        in_window += q.place in bio[:window]
    return {
        "documents": len(corpus),
        "characters": sum(map(len, corpus)),
        "vocab_size": len(vocab),
        "vocab_fingerprint": vocab.fingerprint,
        "train": len(train),
        "dev": len(dev),
        "test": len(test),
        "dev_answer_in_bio": in_bio,
        "dev_answer_in_pretrain_window": in_window,
    }


def run(cfg, context) -> dict:
    out = Path(cfg.paths.prepared)
    with (
        tracked_stage(cfg, context, "prepare") as (tracker, summary),
        tempfile.TemporaryDirectory() as tmp,
    ):
        files = source_files(cfg.data, Path(tmp))
        corpus = read_corpus(files["corpus"])
        train, dev = read_questions(files["train"]), read_questions(files["dev"])
        test = read_questions(files["test"], with_answers=False)
        vocab = Vocabulary.from_corpus(corpus)
        for split, questions in (("train", train), ("dev", dev), ("test", test)):
            check_characters(files[split], questions, vocab)
        out.mkdir(parents=True, exist_ok=True)
        vocab.save(out / "vocab.json")
        write_text(out / "corpus.txt", "\n".join(corpus) + "\n")
        write_text(out / "train.tsv", "".join(f"{q.question}\t{q.place}\n" for q in train))
        write_text(out / "dev.tsv", "".join(f"{q.question}\t{q.place}\n" for q in dev))
        write_text(out / "test.tsv", "".join(f"{q.question}\n" for q in test))
        for extra in ("people", "places"):  # the synthetic source's ground truth
            if extra in files:
                write_with(
                    out / f"{extra}.tsv", lambda tmp, e=extra: shutil.copyfile(files[e], tmp)
                )
        stats = statistics(corpus, train, dev, test, vocab, cfg.model.block_size)
        # the source files' digests, so that runs on the same files can be told apart
        stats["sha256"] = {files[role].name: sha256(files[role]) for role in FILE_NAMES}
        write_json(Path(cfg.paths.metrics) / "data.json", stats)
        tracker.summary({f"data/{k}": v for k, v in stats.items()})
        tracker.update_config({"data_fingerprint": data_fingerprint(out)})
        tracker.log_artifact(out, "prepared-data", "dataset", metadata=stats)
        summary.update(
            source=cfg.data.source,
            read=f"{len(corpus)} bios, {len(train)}/{len(dev)}/{len(test)} questions",
            wrote=str(out),
            vocab=f"{len(vocab)} symbols ({vocab.fingerprint})",
        )
    return stats


def main() -> None:
    run_stage_command("prepare", __doc__, run)


if __name__ == "__main__":
    main()
