"""What a finetuned model says about people who do not exist (the seed's part 3).

The seed worries that the model answers for strangers by guessing from similar names. Greedy
decoding always produces some text, so the questions are which places it names, how sure it is,
and whether the guess follows the name's apparent origin: on the synthetic data each name comes
from a Faker locale, and each place belongs to a country, so "origin-following" is measurable
against chance. A second split asks, for the real dev questions, whether the gold place occurs
in the part of the biography that pretraining shows the model at all.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from knowledge_probe.analysis.verdict import Verdict
from knowledge_probe.data.errors import DataFormatError
from knowledge_probe.data.names import prompt_ids
from knowledge_probe.data.readers import Question, question_for
from knowledge_probe.data.synthetic import LOCALES, Person, SyntheticDataset, fresh_names
from knowledge_probe.data.vocab import MASK_ID, PAD_ID, Vocabulary
from knowledge_probe.models.gpt import GPT

WINDOW_GROUPS = ("in_window", "beyond_window", "not_in_bio")


def _read_tsv(path: str | Path, header: list[str]) -> list[list[str]]:
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t") != header:
        raise DataFormatError(path, 1, f"header is not {'<TAB>'.join(header)}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataFormatError(path, number, f"{len(fields)} fields, expected {len(header)}")
        rows.append(fields)
    return rows


def read_people(path: str | Path) -> list[Person]:
    """people.tsv as the synthetic source writes it: name, locale, country, birthplace, split."""
    return [
        Person(*row)
        for row in _read_tsv(path, ["name", "locale", "country", "birthplace", "split"])
    ]


def read_places(path: str | Path) -> dict[str, str]:
    """places.tsv: place -> country."""
    return dict(_read_tsv(path, ["place", "country"]))


@dataclass(frozen=True)
class Stranger:
    name: str
    locale: str

    @property
    def question(self) -> Question:
        return Question(question_for(self.name))


def strangers(
    n: int,
    seed: int,
    *,
    corpus: list[str],
    people: list[Person],
    questions: Iterable[Question],
    vocab: Vocabulary,
    block_size: int,
    room: int = 16,
) -> list[Stranger]:
    """`n` names of people who do not exist, fresh from the synthetic name generator.

    Each is absent from the corpus and from every question file, spelt with characters the
    vocabulary has, and short enough to leave `room` characters for an answer.
    """
    dataset = SyntheticDataset(corpus, [], [], [], people, {})
    asked = "\n".join(q.question for q in questions)
    chosen: list[Stranger] = []
    want = n
    while len(chosen) < n and want <= 64 * max(n, 1):
        chosen = []
        for name, locale in fresh_names(dataset, want, seed):
            fits = len(question_for(name)) + 1 + room <= block_size
            if fits and not vocab.missing(name) and name not in asked:
                chosen.append(Stranger(name, locale))
        want *= 2
    if len(chosen) < n:
        raise ValueError(f"found only {len(chosen)} usable fresh names of {n} wanted")
    return chosen[:n]


@torch.inference_mode()
def answer_probabilities(
    model: GPT,
    vocab: Vocabulary,
    questions: list[Question],
    answers: list[str],
    batch_size: int = 256,
) -> list[float]:
    """P(answer, then the closing mask | question) under the model: how sure the greedy answer is."""
    model.eval()
    device = next(model.parameters()).device
    limit = model.config.block_size + 1
    sequences, starts = [], []
    for q, a in zip(questions, answers, strict=True):
        prompt = prompt_ids(q.question, vocab)
        ids = (prompt + vocab.encode(a) + [MASK_ID])[:limit]
        sequences.append(ids)
        starts.append(len(prompt))
    probabilities = []
    for first in range(0, len(sequences), batch_size):
        chunk = sequences[first : first + batch_size]
        width = max(map(len, chunk))
        ids = torch.full((len(chunk), width), PAD_ID, dtype=torch.long, device=device)
        for row, seq in enumerate(chunk):
            ids[row, : len(seq)] = torch.tensor(seq)
        logits, _ = model(ids[:, :-1])
        logp = F.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
        for row, seq in enumerate(chunk):
            start = starts[first + row]
            probabilities.append(math.exp(float(logp[row, start - 1 : len(seq) - 1].sum())))
    return probabilities


def place_choices(answers: list[str], known_places: set[str], top: int = 10) -> dict:
    """How often an answer is non-empty and a known place, and which places come up most."""
    counts = Counter(answers)
    total = max(len(answers), 1)
    return {
        "answered": sum(bool(a) for a in answers) / total,
        "known_place": sum(a in known_places for a in answers) / total,
        "distinct": len(counts),
        "top": [[place, count] for place, count in counts.most_common(top)],
        "top_share": counts.most_common(1)[0][1] / total if counts else 0.0,
    }


def origin_agreement(
    answers: list[str],
    locales: list[str],
    place_country: dict[str, str],
    *,
    permutations: int = 2000,
    seed: int = 0,
) -> dict:
    """How often the answered place lies in the country of the name's locale, against chance.

    Chance is the agreement expected if answers were unrelated to names: the sum over countries
    of P(answer's country) x P(name's country), which a model answering only "Berlin" also gets.
    The p-value is the share of random re-pairings of answers and names that agree as often.
    """
    countries = [place_country.get(a) for a in answers]
    origins = [LOCALES[loc] for loc in locales]
    n = max(len(answers), 1)
    observed = sum(c == o for c, o in zip(countries, origins, strict=True)) / n
    answer_share, origin_share = Counter(countries), Counter(origins)
    chance = sum(answer_share[c] * origin_share[c] for c in origin_share) / n**2
    rng = random.Random(seed)
    shuffled, at_least = list(countries), 0
    for _ in range(permutations):
        rng.shuffle(shuffled)
        at_least += sum(c == o for c, o in zip(shuffled, origins, strict=True)) / n >= observed
    return {
        "agreement": observed,
        "chance": chance,
        "uniform_chance": 1 / len(set(place_country.values()) or {None}),
        "p_value": (at_least + 1) / (permutations + 1),
        "lift": observed / chance if chance else None,
    }


def training_origin_rate(people: list[Person], place_country: dict[str, str]) -> float:
    """Share of training people born in their name's country: what the data could teach."""
    train = [p for p in people if p.split == "train"]
    return sum(place_country.get(p.birthplace) == p.country for p in train) / max(len(train), 1)


def window_split(
    dev: list[Question], predictions: list[str], corpus: list[str], window: int
) -> dict[str, dict]:
    """Dev accuracy by where the gold place occurs in the person's biographies.

    in_window: within the first `window` characters of a biography (what prefix pretraining
    shows); beyond_window: only later in a biography; not_in_bio: nowhere. The three groups
    partition the dev set, so their totals add up to it.
    """
    if len(dev) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(dev)} dev questions")
    bios: dict[str, list[str]] = {}
    for doc in corpus:
        bios.setdefault(doc.split(".")[0].strip(), []).append(doc)
    groups = {g: {"total": 0, "correct": 0} for g in WINDOW_GROUPS}
    for q, answer in zip(dev, predictions, strict=True):
        docs = bios.get(q.name) or [d for d in corpus if d.startswith(q.name)]
        if any(q.place in d[:window] for d in docs):
            group = "in_window"
        elif any(q.place in d for d in docs):
            group = "beyond_window"
        else:
            group = "not_in_bio"
        groups[group]["total"] += 1
        groups[group]["correct"] += answer == q.place
    for g in groups.values():
        g["accuracy"] = g["correct"] / g["total"] if g["total"] else None
    return groups


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def verdicts(models: dict[str, dict], window: int) -> dict[str, Verdict]:
    """The seed's part-3 claims, decided by the per-model results (keys `variant-init`).

    Each model's entry holds `choices` (place_choices of its stranger answers), `confidence`
    (median answer probability for strangers and for dev people), `origin` (origin_agreement or
    None without a place -> country map) and `window` (window_split of its dev answers).
    """
    names = sorted(models)
    pretrained = [n for n in names if n.endswith("pretrained")]
    # the seed's claims are about a model that has learned to answer: judge them on the
    # pretrained model with the best dev accuracy (every model is listed in the findings)
    best = max(pretrained, key=lambda n: dev_accuracy(models[n]["window"]), default=None)
    answered = {n: models[n]["choices"]["known_place"] for n in names}
    v_answers = Verdict(
        f"Asked about people who do not exist, the best pretrained model ({best}) still names a "
        "known place.",
        answered[best] >= 0.9 if best else None,
        "; ".join(
            f"{n}: a known place for {_pct(answered[n])} of strangers, median P(answer) "
            f"{models[n]['confidence']['strangers']:.2f} (dev people: {models[n]['confidence']['dev']:.2f})"
            for n in names
        ),
    )
    with_origin = [n for n in names if models[n]["origin"]]
    origin_pre = [n for n in pretrained if models[n]["origin"]]
    follows = {
        n: models[n]["origin"]["p_value"] < 0.05
        and models[n]["origin"]["agreement"] > models[n]["origin"]["chance"]
        for n in with_origin
    }
    v_origin = Verdict(
        f"The best pretrained model ({best}) guesses from the name: the answered place lies in "
        "the name's country more often than chance.",
        follows[best] if best in origin_pre else None,
        "; ".join(
            f"{n}: {_pct(models[n]['origin']['agreement'])} in the name's country vs "
            f"{_pct(models[n]['origin']['chance'])} by chance (p = {models[n]['origin']['p_value']:.3g})"
            for n in with_origin
        )
        or "no place -> country map for this data source, so origin cannot be measured",
    )
    margins = {
        init: [
            models[n]["origin"]["agreement"] - models[n]["origin"]["chance"]
            for n in with_origin
            if n.endswith(init)
        ]
        for init in ("pretrained", "scratch")
    }
    if all(margins.values()):
        v_origin = Verdict(
            v_origin.claim,
            v_origin.passed,
            v_origin.finding
            + "; above chance on average by "
            + ", ".join(
                f"{100 * sum(m) / len(m):+.1f} points ({init})" for init, m in margins.items()
            ),
        )
    outside = {
        n: {
            "inside": models[n]["window"]["in_window"],
            "outside": _merge(
                models[n]["window"]["beyond_window"], models[n]["window"]["not_in_bio"]
            ),
        }
        for n in names
    }
    decidable = best is not None and all(outside[best][g]["total"] for g in ("inside", "outside"))
    v_window = Verdict(
        f"The best pretrained model ({best}) answers dev questions whose gold place lies in the "
        f"first {window} characters of the biography (what pretraining shows) better than the "
        "others.",
        outside[best]["inside"]["accuracy"] > outside[best]["outside"]["accuracy"]
        if decidable
        else None,
        "; ".join(
            f"{n}: {outside[n]['inside']['correct']}/{outside[n]['inside']['total']} in the window, "
            f"{outside[n]['outside']['correct']}/{outside[n]['outside']['total']} outside it"
            for n in names
        )
        + (
            ""
            if decidable
            else " (the best pretrained model lacks questions in one group: undecided)"
        ),
    )
    return {"answers_anyway": v_answers, "follows_origin": v_origin, "window": v_window}


def dev_accuracy(window: dict) -> float:
    """Dev accuracy over every group of a window_split result."""
    return _merge(*window.values())["accuracy"] or 0.0


def _merge(*groups: dict) -> dict:
    total = sum(g["total"] for g in groups)
    correct = sum(g["correct"] for g in groups)
    return {"total": total, "correct": correct, "accuracy": correct / total if total else None}
