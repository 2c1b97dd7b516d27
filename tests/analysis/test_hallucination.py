"""The stranger probe: fresh names really are unknown, and the measures mean what they say."""

from __future__ import annotations

import math

import pytest
import torch

from knowledge_probe.analysis import hallucination as h
from knowledge_probe.data import Question, Vocabulary, question_for
from knowledge_probe.data.errors import DataFormatError
from knowledge_probe.data.synthetic import LOCALES, REAL_LIKE, SyntheticSpec, generate
from knowledge_probe.models import GPT


@pytest.fixture(scope="module")
def dataset():
    return generate(
        SyntheticSpec(n_train=40, n_dev=10, n_test=10, cities_per_country=7, **REAL_LIKE)
    )


def questions_of(dataset) -> list[Question]:
    return [Question(q, p) for q, p in dataset.train + dataset.dev] + [
        Question(q) for q in dataset.test
    ]


def test_strangers_are_absent_from_corpus_and_questions(dataset):
    vocab = Vocabulary.from_corpus(dataset.corpus)
    found = h.strangers(
        25,
        seed=3,
        corpus=dataset.corpus,
        people=dataset.people,
        questions=questions_of(dataset),
        vocab=vocab,
        block_size=128,
    )
    assert len(found) == len({s.name for s in found}) == 25
    text = "\n".join(dataset.corpus)
    asked = "\n".join(q.question for q in questions_of(dataset))
    known = {p.name for p in dataset.people}
    for s in found:
        assert s.name not in text and s.name not in asked and s.name not in known
        assert not vocab.missing(s.name) and s.locale in LOCALES
        assert len(question_for(s.name)) + 1 + 16 <= 128
    again = h.strangers(
        25,
        seed=3,
        corpus=dataset.corpus,
        people=dataset.people,
        questions=questions_of(dataset),
        vocab=vocab,
        block_size=128,
    )
    assert again == found


def test_people_and_places_round_trip(dataset, tmp_path):
    dataset.write(tmp_path)
    assert h.read_people(tmp_path / "people.tsv") == dataset.people
    assert h.read_places(tmp_path / "places.tsv") == dataset.places
    (tmp_path / "bad.tsv").write_text("place\tcountry\nBerlin\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="bad.tsv:2"):
        h.read_places(tmp_path / "bad.tsv")


def test_origin_agreement_against_chance():
    places = {"Berlin": "Germany", "Hamburg": "Germany", "Krakow": "Poland", "Gdansk": "Poland"}
    locales = ["de_DE", "pl_PL"] * 20
    following = ["Berlin" if loc == "de_DE" else "Krakow" for loc in locales]
    result = h.origin_agreement(following, locales, places, permutations=300)
    assert result["agreement"] == 1.0 and result["chance"] == pytest.approx(0.5)
    assert result["p_value"] < 0.01
    # always the same answer: agreement is exactly what chance predicts, and not significant
    constant = h.origin_agreement(["Berlin"] * 40, locales, places, permutations=300)
    assert constant["agreement"] == constant["chance"] == 0.5 and constant["p_value"] == 1.0


def test_place_choices():
    result = h.place_choices(["Berlin", "Berlin", "", "Xyz"], {"Berlin"})
    assert result["answered"] == 0.75 and result["known_place"] == 0.5
    assert result["top"][0] == ["Berlin", 2] and result["distinct"] == 3


def test_window_split_partitions_the_dev_set():
    corpus = [
        "Ada Byron. Ada Byron was born in London.",
        "Alan Moore. " + "x" * 60 + " Alan Moore was born in Northampton.",
        "Kurt Weill. Kurt Weill was a composer.",
    ]
    dev = [
        Question(question_for("Ada Byron"), "London"),
        Question(question_for("Alan Moore"), "Northampton"),
        Question(question_for("Kurt Weill"), "Dessau"),
    ]
    groups = h.window_split(dev, ["London", "Northampton", "Berlin"], corpus, window=50)
    assert {g: (v["total"], v["correct"]) for g, v in groups.items()} == {
        "in_window": (1, 1),
        "beyond_window": (1, 1),
        "not_in_bio": (1, 0),
    }
    assert sum(v["total"] for v in groups.values()) == len(dev)


def test_answer_probabilities_match_one_sequence_at_a_time(tiny_vocab, make_config):
    torch.manual_seed(0)
    model = GPT(make_config(vocab_size=len(tiny_vocab), block_size=64)).eval()
    questions = [Question(question_for("Ada Lovelace")), Question(question_for("Niels Bohr"))]
    answers = ["London", "Rome and more"]
    batched = h.answer_probabilities(model, tiny_vocab, questions, answers)
    for q, a, p in zip(questions, answers, batched, strict=True):
        alone = h.answer_probabilities(model, tiny_vocab, [q], [a])[0]
        assert p == pytest.approx(alone, rel=1e-4) and 0 < p <= 1
    # the probabilities of every possible first answer character sum to one
    first = [h.answer_probabilities(model, tiny_vocab, questions[:1], [c])[0] for c in "LR"]
    assert math.fsum(first) < 1


def _model_result(known: float, agreement: float, inside: tuple, outside: tuple) -> dict:
    return {
        "choices": {"known_place": known},
        "confidence": {"strangers": 0.5, "dev": 0.6},
        "origin": {
            "agreement": agreement,
            "chance": 0.2,
            "p_value": 0.001 if agreement > 0.3 else 0.5,
        },
        "window": {
            "in_window": {
                "total": inside[0],
                "correct": inside[1],
                "accuracy": inside[1] / inside[0],
            },
            "beyond_window": {
                "total": outside[0],
                "correct": outside[1],
                "accuracy": None if not outside[0] else outside[1] / outside[0],
            },
            "not_in_bio": {"total": 0, "correct": 0, "accuracy": None},
        },
    }


def test_verdicts_follow_the_numbers():
    models = {
        "vanilla-pretrained": _model_result(1.0, 0.5, (10, 5), (10, 1)),
        "vanilla-scratch": _model_result(0.95, 0.2, (10, 1), (10, 1)),
    }
    verdicts = h.verdicts(models, window=112)
    assert verdicts["answers_anyway"].passed is True
    assert verdicts["follows_origin"].passed is True
    assert verdicts["window"].passed is True
    assert "+30.0 points (pretrained), +0.0 points (scratch)" in verdicts["follows_origin"].finding
    assert "(vanilla-pretrained)" in verdicts["answers_anyway"].claim
    # a pretrained model that learned nothing does not decide the claims about the one that did
    models["perceiver-pretrained"] = _model_result(0.1, 0.1, (10, 0), (10, 0))
    verdicts = h.verdicts(models, window=112)
    assert verdicts["answers_anyway"].passed is True
    assert verdicts["follows_origin"].passed is True
    assert "perceiver-pretrained: a known place for 10%" in verdicts["answers_anyway"].finding
    models["vanilla-pretrained"] = _model_result(0.5, 0.2, (10, 5), (0, 0))
    verdicts = h.verdicts(models, window=112)
    assert verdicts["answers_anyway"].passed is False
    assert verdicts["follows_origin"].passed is False
    assert verdicts["window"].passed is None and "undecided" in verdicts["window"].finding
