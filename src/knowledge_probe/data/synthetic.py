"""A deterministic synthetic stand-in for the birthplace data set.

The real experiment needs a biography corpus plus birthplace questions; this module writes the
same four files from a seed so the whole pipeline runs offline in minutes. The data is built to
keep the experiment honest rather than merely well-formed:

* names carry a weak hint about the birthplace (a person's name comes from a locale and, with
  probability `locale_fidelity`, they were born in that locale's country), as real names do;
* city popularity within a country is Zipf-skewed, so always answering the most frequent place
  is a meaningful but weak baseline, as in the real data (about 5% on its dev set);
* every biography also mentions other places (where the person studied, worked, lived, died),
  drawn from the same distribution as birthplaces, so a model must learn the *birth* relation
  rather than "the first city in the line";
* the birthplace almost always lies in the first `BIRTHPLACE_WINDOW` characters, the longest
  prefix that span-corruption pretraining shows a model with a 128-character context.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from faker import Faker

from knowledge_probe.data.corruption import max_truncation
from knowledge_probe.data.readers import FILE_NAMES, question_for
from knowledge_probe.io import write_text

__all__ = [
    "FILE_NAMES",
    "LOCALES",
    "REAL_LIKE",
    "Person",
    "SyntheticDataset",
    "SyntheticSpec",
    "fresh_names",
    "generate",
]

# Locales whose Faker `city()` returns real place names (en_GB, fr_FR and pt_BR make up names
# such as "East Jennifer"; es_ES mixes provinces, regions and a truncated "Ciudad") in an order
# that does not depend on PYTHONHASHSEED (it_IT builds its city list from a set).
LOCALES: dict[str, str] = {
    "de_DE": "Germany",
    "pl_PL": "Poland",
    "nl_NL": "Netherlands",
    "sv_SE": "Sweden",
    "pt_PT": "Portugal",
    "cs_CZ": "Czech Republic",
    "da_DK": "Denmark",
    "fi_FI": "Finland",
}

SPLITS = ("train", "dev", "test", "background")
# what span-corruption pretraining ever shows of a biography, with the context of every experiment
BIRTHPLACE_WINDOW = max_truncation(128)
MAX_PLACE_CHARS = 20
# City popularity within a country: with 12 cities and 8 countries the most frequent place is
# about 3.5% of people, and about 6% of a 150-question dev set (the real dev set: 5%).
ZIPF_EXPONENT = 0.8
# de_DE entries that lost the space of "Bad ..." (spa towns); not real names as written.
_MISSPELT_CITIES = frozenset({"Badalzungen", "Badibling", "Badoberan"})

# Letters in words joined by single spaces, hyphens or apostrophes: rejects Faker entries such as
# "Rijswijk (NB)", "'s-Gravenzande" or "West-Francië, van" and anything with digits or tabs.
_WORDS = re.compile(r"[^\W\d_]+(?:[ '-][^\W\d_]+)*")

OCCUPATIONS = (
    "painter", "composer", "architect", "footballer", "politician", "journalist", "physician",
    "novelist", "actor", "engineer", "historian", "poet", "chemist", "singer", "lawyer",
    "photographer", "sculptor", "violinist", "economist", "botanist",
)  # fmt: skip
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip

# Every template names its places by role ({birth}, {death}, {study}, {work}, {home}, {youth},
# {origin}); a role is one place per person, so a fact is never stated twice or contradicted.
BIRTH_OPENERS = (
    "{name} (born {date} in {birth}) was {occ}.",
    "Born in {birth}, {sur} became {occ}.",
    "{name} was born in {birth} in {year}.",
    "{name} was {occ} who was born in {birth}.",
    "A native of {birth}, {sur} worked as {occ}.",
    "{name} ({year} in {birth} - {dyear} in {death}) was {occ}.",
    "{name} was born in {birth} and later moved to {home}.",
    "{name} was {occ} born in {birth} who lived in {home}.",
    "{name} was {occ}, born on {date} in {birth}.",
    "{sur} grew up in {youth} but was born in {birth}.",
    "{name} was born in {birth} to a family from {origin}.",
    "{name}, {occ} from {birth}, studied in {study}.",
)
# Occasionally the first sentence is about another place and the birthplace comes second.
OTHER_OPENERS = (
    "{name} was {occ} based in {work}.",
    "{name} was {occ} active in {work}.",
    "{name} was {occ} trained in {study}.",
)
BIRTH_FOLLOWERS = (
    "{sur} was born in {birth}.",
    "{sur} was born in {birth} in {year}.",
    "{sur} was a native of {birth}.",
)
FOLLOWERS = (
    "{sur} studied in {study}.",
    "{sur} studied at the University of {study}.",
    "{sur} worked in {work} for many years.",
    "{sur} spent most of {poss} career in {work}.",
    "{sur} later lived in {home}.",
    "{sur} moved to {home} in {myear}.",
    "{sur} died in {death} in {dyear}.",
    "{sur} died in {death}.",
    "{sur} received several awards for {poss} work.",
    '{sur} wrote the essay "Why {work}?".',
)
DISTRACTOR_ROLES = ("death", "study", "work", "home", "youth", "origin")
OTHER_OPENER_RATE = 0.15
EXTRA_SENTENCE_WEIGHTS = (0.1, 0.55, 0.35)  # how many sentences follow the first: 0, 1 or 2
_ROLE = re.compile(r"\{(\w+)\}")


# SyntheticSpec settings under which the corpus looks like the real one: one plainly worded
# biography per person, up to 130 characters (the defaults are the everyday experiment's)
REAL_LIKE = {"max_bio_chars": 130, "bio_variants": 1}


@dataclass(frozen=True)
class SyntheticSpec:
    """How many people of each split to invent, and how names relate to birthplaces."""

    n_train: int = 150  # people with a train question
    n_dev: int = 50
    n_test: int = 10
    n_background: int = 0  # extra people with a biography but no question
    cities_per_country: int = 12
    locale_fidelity: float = 0.75  # probability a person is born in their name's country
    max_bio_chars: int = 64  # further sentences are only added while a line stays this short
    # biographies per person, each phrased differently (the same facts); 1 is the real data's way
    bio_variants: int = 6
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.n_train, self.n_dev, self.n_test, self.n_background) < 0:
            raise ValueError(f"split sizes must not be negative: {self}")
        if not 1 <= self.bio_variants <= len(BIRTH_OPENERS):
            raise ValueError(
                f"bio_variants must lie in [1, {len(BIRTH_OPENERS)}], got {self.bio_variants}"
            )
        if not 0.0 <= self.locale_fidelity <= 1.0:
            raise ValueError(f"locale_fidelity must lie in [0, 1], got {self.locale_fidelity}")
        # A biography names up to 1 + len(DISTRACTOR_ROLES) distinct places, and with full
        # fidelity all of them come from one country.
        if self.cities_per_country <= len(DISTRACTOR_ROLES):
            raise ValueError(
                f"cities_per_country must exceed {len(DISTRACTOR_ROLES)}, got {self.cities_per_country}"
            )


@dataclass(frozen=True)
class Person:
    """The ground truth behind one biography; `split` is train, dev, test or background."""

    name: str
    locale: str
    country: str
    birthplace: str
    split: str


@dataclass
class SyntheticDataset:
    """The four files' contents plus the ground truth they were made from."""

    corpus: list[str]
    train: list[tuple[str, str]]  # (question, place)
    dev: list[tuple[str, str]]
    test: list[str]  # questions only
    people: list[Person]
    places: dict[str, str]  # place -> country

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write the four data files plus people.tsv and places.tsv, each atomically."""
        directory = Path(directory)
        contents = {
            "corpus": self.corpus,
            "train": [f"{q}\t{p}" for q, p in self.train],
            "dev": [f"{q}\t{p}" for q, p in self.dev],
            "test": self.test,
            "people": ["name\tlocale\tcountry\tbirthplace\tsplit"]
            + [
                f"{p.name}\t{p.locale}\t{p.country}\t{p.birthplace}\t{p.split}" for p in self.people
            ],
            "places": ["place\tcountry"] + [f"{p}\t{c}" for p, c in self.places.items()],
        }
        file_names = {**FILE_NAMES, "people": "people.tsv", "places": "places.tsv"}
        paths = {key: directory / file_names[key] for key in contents}
        for key, lines in contents.items():
            write_text(paths[key], "".join(line + "\n" for line in lines))
        return paths


class _PlaceSampler:
    """Draws a place for a person: their name's country with probability `fidelity`, else another.

    Within a country, the city of popularity rank r has weight r**-ZIPF_EXPONENT.
    """

    def __init__(self, cities: dict[str, list[str]], fidelity: float, rng: random.Random):
        self.cities, self.fidelity, self.rng = cities, fidelity, rng
        self.countries = list(cities)
        self.cum_weights = {
            country: list(accumulate(rank**-ZIPF_EXPONENT for rank in range(1, len(names) + 1)))
            for country, names in cities.items()
        }

    def draw(self, country: str) -> str:
        if self.rng.random() >= self.fidelity:
            country = self.rng.choice([c for c in self.countries if c != country])
        return self.rng.choices(self.cities[country], cum_weights=self.cum_weights[country])[0]

    def draw_distinct(self, country: str, taken: set[str]) -> str:
        place = self.draw(country)
        while place in taken:
            place = self.draw(country)
        return place


def _fakers(seed: int, purpose: str) -> dict[str, Faker]:
    """One Faker per locale, each seeded independently of the others and of global state."""
    fakers = {}
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(f"{purpose}:{seed}:{locale}")
        fakers[locale] = fake
    return fakers


def _draw_cities(fake: Faker, n: int, taken: list[str]) -> list[str]:
    """`n` distinct, clean city names, none a substring of a place already taken or vice versa."""
    cities: list[str] = []
    for _ in range(200 * n):
        city = fake.city()
        clean = (
            len(city) <= MAX_PLACE_CHARS and _WORDS.fullmatch(city) and city not in _MISSPELT_CITIES
        )
        if clean and not any(city in other or other in city for other in taken + cities):
            cities.append(city)
            if len(cities) == n:
                return cities
    raise ValueError(f"Faker locale {fake.locales[0]} yields fewer than {n} usable distinct cities")


def _draw_name(
    fake: Faker, rng: random.Random, accept: Callable[[str], bool]
) -> tuple[str, str, str]:
    """A clean, accepted (name, surname, possessive); gendered surnames agree with the first name."""
    for _ in range(1000):
        if rng.random() < 0.5:
            first, last, poss = fake.first_name_male(), fake.last_name_male(), "his"
        else:
            first, last, poss = fake.first_name_female(), fake.last_name_female(), "her"
        name = f"{first} {last}"
        if _WORDS.fullmatch(name) and accept(name):
            return name, last, poss
    raise ValueError(f"Faker locale {fake.locales[0]} ran out of new names")


def _article(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _roles(template: str) -> set[str]:
    return set(_ROLE.findall(template)) & set(DISTRACTOR_ROLES)


def _compose(
    opening: list[str], values: dict[str, str], rng: random.Random, max_chars: int
) -> tuple[str, int]:
    """Render "NAME. " and the opening sentences, then add followers while the line stays short.

    Returns the line and the offset just past the birthplace in it.
    """
    line, birth_end = values["name"] + ".", 0
    for template in opening:
        if "{birth}" in template:
            before = template.split("{birth}")[0].format(**values)
            birth_end = len(line) + 1 + len(before) + len(values["birth"])
        line += " " + template.format(**values)
    used = set().union(*map(_roles, opening))
    wanted = rng.choices(range(len(EXTRA_SENTENCE_WEIGHTS)), EXTRA_SENTENCE_WEIGHTS)[0]
    wanted -= len(opening) - 1
    followers = list(FOLLOWERS)
    rng.shuffle(followers)
    for template in followers:
        if wanted <= 0:
            break
        sentence = template.format(**values)
        if _roles(template) & used or len(line) + 1 + len(sentence) > max_chars:
            continue
        line += " " + sentence
        used |= _roles(template)
        wanted -= 1
    return line, birth_end


def _biography(
    person: Person,
    surname: str,
    poss: str,
    places: _PlaceSampler,
    rng: random.Random,
    max_chars: int,
    variants: int = 1,
) -> list[str]:
    """`variants` lines, each "NAME. " then one to three sentences, the birthplace among other
    places; the lines state the same facts in different words."""
    taken = {person.birthplace}
    values = {"name": person.name, "birth": person.birthplace, "poss": poss}
    for role in DISTRACTOR_ROLES:
        values[role] = places.draw_distinct(person.country, taken)
        taken.add(values[role])
    year = rng.randint(1850, 1970)
    values |= {
        "sur": surname[0].upper() + surname[1:],  # Dutch "van Dijk" is "Van Dijk" on its own
        "occ": _article(rng.choice(OCCUPATIONS)),
        "year": str(year),
        "date": f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {year}",
        "myear": str(year + rng.randint(20, 35)),
        "dyear": str(rng.randint(year + 40, min(year + 90, 2020))),
    }
    openings = [[template] for template in BIRTH_OPENERS]
    rng.shuffle(openings)
    if rng.random() < OTHER_OPENER_RATE:
        openings.insert(0, [rng.choice(OTHER_OPENERS), rng.choice(BIRTH_FOLLOWERS)])
    # Take the first openings that keep the birthplace in the pretraining window; only a very
    # long name can defeat them all, and then the birthplace sits as early as possible.
    lines: list[str] = []
    for opening in [*openings, ["{name} was born in {birth}."]]:
        line, birth_end = _compose(opening, values, rng, max_chars)
        if birth_end <= BIRTHPLACE_WINDOW:
            lines.append(line)
            if len(lines) == variants:
                break
    return lines or [line]


def _cover_question_characters(corpus: list[str], people: list[Person]) -> None:
    """The vocabulary comes from the corpus, so every character of the questions must occur in it.

    Names occur in their biographies; the template's "W" and "?" may not, and then one line
    gets a sentence that has them.
    """
    missing = set(question_for("")) - set().union(*map(set, corpus))
    if missing:
        surname = people[0].name.split()[-1]
        corpus[0] += f' {surname} wrote the essay "Why {people[0].birthplace}?".'
        assert not set(question_for("")) - set().union(*map(set, corpus)), missing


def generate(spec: SyntheticSpec = SyntheticSpec()) -> SyntheticDataset:
    """Invent people, places and biographies; the same spec always gives the same data."""
    rng = random.Random(spec.seed)
    fakers = _fakers(spec.seed, "people")
    taken: list[str] = []
    cities: dict[str, list[str]] = {}
    for locale, country in LOCALES.items():
        cities[country] = _draw_cities(fakers[locale], spec.cities_per_country, taken)
        taken += cities[country]
    places = {city: country for country, names in cities.items() for city in names}
    sampler = _PlaceSampler(cities, spec.locale_fidelity, rng)

    counts = (spec.n_train, spec.n_dev, spec.n_test, spec.n_background)
    splits = [split for split, n in zip(SPLITS, counts, strict=True) for _ in range(n)]
    locales = list(LOCALES)
    seen: set[str] = set()
    people: list[Person] = []
    corpus: list[str] = []
    for split in splits:
        locale = rng.choice(locales)
        name, surname, poss = _draw_name(fakers[locale], rng, lambda new: new not in seen)
        seen.add(name)
        country = LOCALES[locale]
        person = Person(name, locale, country, sampler.draw(country), split)
        people.append(person)
        corpus += _biography(
            person, surname, poss, sampler, rng, spec.max_bio_chars, spec.bio_variants
        )
    _cover_question_characters(corpus, people)
    rng.shuffle(corpus)

    def questions(split: str) -> list[tuple[str, str]]:
        return [(question_for(p.name), p.birthplace) for p in people if p.split == split]

    return SyntheticDataset(
        corpus=corpus,
        train=questions("train"),
        dev=questions("dev"),
        test=[q for q, _ in questions("test")],
        people=people,
        places=places,
    )


def fresh_names(
    dataset_or_people: SyntheticDataset | Iterable[Person], n: int, seed: int
) -> list[tuple[str, str]]:
    """`n` (name, locale) pairs for people who do not exist, to probe what a model invents.

    A candidate is rejected if it is a known name, occurs anywhere in the corpus, or contains a
    known name: any of these would let the model "know" something about it.
    """
    if isinstance(dataset_or_people, SyntheticDataset):
        people, corpus = dataset_or_people.people, dataset_or_people.corpus
    else:
        people, corpus = list(dataset_or_people), []
    known = [p.name for p in people]
    text = "\n".join(corpus + known)
    chosen: set[str] = set()

    def unused(name: str) -> bool:
        return name not in chosen and name not in text and not any(k in name for k in known)

    rng = random.Random(seed)
    fakers = _fakers(seed, "fresh")
    locales = list(LOCALES)
    found: list[tuple[str, str]] = []
    for _ in range(n):
        locale = rng.choice(locales)
        name = _draw_name(fakers[locale], rng, unused)[0]
        chosen.add(name)
        found.append((name, locale))
    return found
