"""The synthetic data must be reproducible, well-formed, and hard in the ways the real data is."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import knowledge_probe
from knowledge_probe.data.readers import read_corpus, read_questions
from knowledge_probe.data.synthetic import (
    FILE_NAMES,
    LOCALES,
    REAL_LIKE,
    Person,
    SyntheticDataset,
    SyntheticSpec,
    fresh_names,
    generate,
)
from knowledge_probe.data.vocab import MASK, PAD

QUESTION = re.compile(r"^Where was (.+) born\?$")


def spec(**settings) -> SyntheticSpec:
    """Data shaped like the real corpus (one biography per person), 600/150/150 people unless
    given."""
    return SyntheticSpec(**{"n_train": 600, "n_dev": 150, "n_test": 150, **REAL_LIKE, **settings})


@pytest.fixture(scope="module")
def dataset() -> SyntheticDataset:
    return generate(spec())


@pytest.fixture(scope="module")
def large() -> SyntheticDataset:
    return generate(spec(n_train=4000, n_dev=500, n_test=100, n_background=400, seed=7))


def bio_of(data: SyntheticDataset) -> dict[str, str]:
    """Map each name to its biography, asserting every line starts with exactly one known name."""
    names = {p.name for p in data.people}
    bios = {}
    for line in data.corpus:
        name = line.split(". ", 1)[0]
        assert name in names, line
        assert name not in bios, f"two biographies for {name}"
        bios[name] = line
    return bios


def read_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    settings = spec(n_train=200, n_dev=50, n_test=50, n_background=20, seed=3)
    first, second = generate(settings), generate(settings)
    assert first == second
    first.write(tmp_path / "a")
    second.write(tmp_path / "b")
    assert read_bytes(tmp_path / "a") == read_bytes(tmp_path / "b")


@pytest.mark.slow
def test_output_does_not_depend_on_the_hash_seed() -> None:
    """Faker data kept in sets (as it_IT's cities are) would make files differ between runs."""
    script = (
        "import hashlib; from knowledge_probe.data.synthetic import SyntheticSpec, generate; "
        "d = generate(SyntheticSpec(n_train=100, n_dev=20, n_test=20, seed=9)); "
        "print(hashlib.sha256(repr(d).encode()).hexdigest())"
    )
    source_root = str(Path(knowledge_probe.__file__).parents[1])
    path = os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")]))
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONPATH": path, "PYTHONHASHSEED": str(hash_seed)},
            stdout=subprocess.PIPE,
            text=True,
        )
        for hash_seed in (1, 2)
    ]
    digests = {run.communicate(timeout=60)[0] for run in runs}
    assert all(run.returncode == 0 for run in runs)
    assert len(digests) == 1


def test_different_seed_gives_different_data(dataset: SyntheticDataset) -> None:
    other = generate(spec(seed=1))
    assert other.corpus != dataset.corpus
    assert {p.name for p in other.people} != {p.name for p in dataset.people}


def test_split_sizes_and_disjoint_names(large: SyntheticDataset) -> None:
    by_split: dict[str, set[str]] = {}
    for person in large.people:
        by_split.setdefault(person.split, set()).add(person.name)
    sizes = {split: len(names) for split, names in by_split.items()}
    assert sizes == {"train": 4000, "dev": 500, "test": 100, "background": 400}
    assert sum(sizes.values()) == len(large.people)  # names unique across all splits
    assert len(large.corpus) == len(large.people)
    assert [QUESTION.match(q).group(1) for q, _ in large.train] == [
        p.name for p in large.people if p.split == "train"
    ]
    assert not {QUESTION.match(q).group(1) for q, _ in large.dev + large.train} & {
        QUESTION.match(q).group(1) for q in large.test
    }


def test_every_person_has_a_biography_with_name_and_birthplace(dataset: SyntheticDataset) -> None:
    bios = bio_of(dataset)
    assert len(bios) == len(dataset.people)
    for person in dataset.people:
        bio = bios[person.name]
        assert bio.startswith(f"{person.name}. ")
        assert person.birthplace in bio


def test_questions_match_people(dataset: SyntheticDataset) -> None:
    truth = {p.name: p.birthplace for p in dataset.people}
    for question, place in dataset.train + dataset.dev:
        name = QUESTION.match(question).group(1)
        assert truth[name] == place
    assert all(QUESTION.match(q) for q in dataset.test)


def test_biographies_are_clean_single_lines(dataset: SyntheticDataset) -> None:
    forbidden = {"\t", "\n", "\r", PAD, MASK}
    for line in dataset.corpus:
        assert not forbidden & set(line), line
        assert line == line.strip()
    lengths = [len(line) for line in dataset.corpus]
    assert sum(60 <= n <= 130 for n in lengths) / len(lengths) > 0.9
    assert max(lengths) <= 160


def test_birthplace_is_usually_early_but_not_always_the_first_place(
    large: SyntheticDataset,
) -> None:
    bios = bio_of(large)
    early = first = 0
    for person in large.people:
        bio = bios[person.name]
        start = bio.index(person.birthplace)
        early += start + len(person.birthplace) <= 112
        mentioned = sorted((bio.index(p), p) for p in large.places if p in bio)
        first += mentioned[0][1] == person.birthplace
    assert early / len(large.people) > 0.99
    assert 0.5 < first / len(large.people) < 0.95


def test_most_biographies_mention_a_distractor_place(large: SyntheticDataset) -> None:
    bios = bio_of(large)
    with_distractor = sum(
        any(place in bios[p.name] for place in large.places if place != p.birthplace)
        for p in large.people
    )
    assert with_distractor / len(large.people) > 0.85


@pytest.mark.parametrize("fidelity", [0.75, 0.3])
def test_locale_fidelity_matches_spec(fidelity: float) -> None:
    data = generate(spec(n_train=4000, n_dev=0, n_test=0, locale_fidelity=fidelity))
    at_home = sum(data.places[p.birthplace] == p.country for p in data.people) / len(data.people)
    assert at_home == pytest.approx(fidelity, abs=0.03)  # binomial sd is about 0.007
    assert all(LOCALES[p.locale] == p.country for p in data.people)


def test_places_per_country_and_skewed_popularity(large: SyntheticDataset) -> None:
    per_country = Counter(large.places.values())
    assert per_country == {country: 12 for country in LOCALES.values()}
    births = Counter(p.birthplace for p in large.people)
    for country in LOCALES.values():
        ranked = sorted((births[c] for c, k in large.places.items() if k == country), reverse=True)
        assert ranked[0] > 3 * ranked[-1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_majority_baseline_on_dev_is_weak(seed: int) -> None:
    data = generate(spec(seed=seed))
    top = Counter(place for _, place in data.dev).most_common(1)[0][1]
    assert top / len(data.dev) < 0.15


@pytest.mark.parametrize(
    "bad", [{"n_dev": -1}, {"locale_fidelity": 1.5}, {"cities_per_country": 6}]
)
def test_spec_rejects_impossible_settings(bad: dict) -> None:
    with pytest.raises(ValueError):
        SyntheticSpec(**bad)


def test_full_fidelity_with_few_cities_still_terminates() -> None:
    data = generate(spec(n_train=50, n_dev=0, n_test=0, cities_per_country=7, locale_fidelity=1.0))
    assert all(data.places[p.birthplace] == p.country for p in data.people)


def test_fresh_names_are_unknown(dataset: SyntheticDataset) -> None:
    fresh = fresh_names(dataset, 100, seed=5)
    assert fresh == fresh_names(dataset, 100, seed=5)
    names = [name for name, _ in fresh]
    assert len(set(names)) == 100
    assert {locale for _, locale in fresh} <= set(LOCALES)
    known = {p.name for p in dataset.people}
    text = "\n".join(dataset.corpus)
    for name in names:
        assert name not in known and name not in text
        assert not any(k in name for k in known)


def test_fresh_names_from_people_only(dataset: SyntheticDataset) -> None:
    known = {p.name for p in dataset.people}
    assert not {name for name, _ in fresh_names(dataset.people, 50, seed=0)} & known


def test_write_creates_files_that_round_trip(tmp_path: Path, dataset: SyntheticDataset) -> None:
    paths = dataset.write(tmp_path / "out")
    assert set(paths) == {*FILE_NAMES, "people", "places"}
    assert {p.name for p in paths.values()} == {p.name for p in (tmp_path / "out").iterdir()}
    for key, name in FILE_NAMES.items():
        assert paths[key].name == name

    raw = {key: path.read_bytes() for key, path in paths.items()}
    for data in raw.values():
        assert data.endswith(b"\n") and b"\r" not in data
    lines = {key: data.decode("utf-8").splitlines() for key, data in raw.items()}
    assert lines["corpus"] == dataset.corpus
    assert [tuple(line.split("\t")) for line in lines["train"]] == dataset.train
    assert [tuple(line.split("\t")) for line in lines["dev"]] == dataset.dev
    assert lines["test"] == dataset.test and not any("\t" in q for q in lines["test"])
    assert lines["people"][0] == "name\tlocale\tcountry\tbirthplace\tsplit"
    assert [Person(*line.split("\t")) for line in lines["people"][1:]] == dataset.people
    assert lines["places"][0] == "place\tcountry"
    assert dict(line.split("\t") for line in lines["places"][1:]) == dataset.places

    # The project's own readers accept the files.
    assert read_corpus(paths["corpus"]) == dataset.corpus
    assert [(q.question, q.place) for q in read_questions(paths["dev"])] == dataset.dev
    assert [q.question for q in read_questions(paths["test"], with_answers=False)] == dataset.test


def test_write_overwrites_in_place(tmp_path: Path) -> None:
    small = generate(spec(n_train=20, n_dev=5, n_test=5, seed=2))
    small.write(tmp_path)
    generate(spec(n_train=30, n_dev=5, n_test=5, seed=4)).write(tmp_path)
    assert len((tmp_path / FILE_NAMES["train"]).read_text(encoding="utf-8").splitlines()) == 30
    assert len(list(tmp_path.iterdir())) == 6  # no temporary files left behind


def test_bio_variants_state_the_same_facts_in_different_words() -> None:
    data = generate(spec(n_train=60, n_dev=20, n_test=20, bio_variants=3, seed=5))
    by_name: dict[str, list[str]] = {}
    for line in data.corpus:
        by_name.setdefault(line.split(". ", 1)[0], []).append(line)
    assert set(by_name) == {p.name for p in data.people}
    for person in data.people:
        lines = by_name[person.name]
        assert len(lines) == 3, lines
        assert len(set(lines)) == 3  # different phrasings
        for line in lines:
            assert person.birthplace in line


def test_bio_variants_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="bio_variants"):
        SyntheticSpec(bio_variants=0)
