"""A synthetic QA corpus in the NQ-open-oracle shape (one gold passage per question), generated from
a seed: invented landmarks with a city, a year, a builder and a height, written as short passages.

It exists so that tests and benchmarks can exercise the whole data pipeline at realistic sizes
when the public datasets are absent; it is labelled synthetic everywhere it is used.
"""

from __future__ import annotations

import random

from groundtune.data.public import PublicQA
from groundtune.data.sources import QAPair

_SYLLABLES = [
    "kor",
    "va",
    "lin",
    "dre",
    "mos",
    "tal",
    "qui",
    "ber",
    "san",
    "ul",
    "fen",
    "ro",
    "gath",
    "el",
    "mir",
]
_KINDS = [
    "Bridge",
    "Tower",
    "Library",
    "Observatory",
    "Canal",
    "Theatre",
    "Lighthouse",
    "Market",
    "Abbey",
    "Dam",
]
_CITIES = [f"{a.title()}{b}" for a in _SYLLABLES for b in ("ford", "holm", "mouth", "stad", "ville")]
_BUILDERS = [
    f"{a.title()}{b} {c.title()}{d}"
    for a in _SYLLABLES[:8]
    for b in ("ric", "na")
    for c, d in (("hal", "e"), ("dun", "o"))
]
_FILLER = [
    "Visitors often arrive early in the morning to avoid the crowds.",
    "Local guides tell several stories about its early years.",
    "The surrounding district has changed a great deal since then.",
    "It appears on postcards sold throughout the region.",
    "Restoration work was carried out in several phases.",
    "A small museum nearby displays drawings and models.",
]


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).title()


def make_synthetic_qa(n: int, seed: int = 0) -> PublicQA:
    """`n` questions, each about its own passage; answers are cities, years, builders or heights."""
    rng = random.Random(seed)
    pairs: list[QAPair] = []
    corpus: list[dict[str, str]] = []
    used: set[str] = set()
    for i in range(n):
        name = f"{_name(rng)} {rng.choice(_KINDS)}"
        while name in used:
            name = f"{_name(rng)} {rng.choice(_KINDS)}"
        used.add(name)
        city, builder = rng.choice(_CITIES), rng.choice(_BUILDERS)
        year, height = rng.randint(1100, 2015), rng.randint(12, 480)
        facts = {
            "city": (f"The {name} stands in {city}.", f"In which city is the {name}?", city),
            "year": (
                f"Construction of the {name} was completed in {year}.",
                f"When was the {name} completed?",
                str(year),
            ),
            "builder": (f"It was designed by {builder}.", f"Who designed the {name}?", builder),
            "height": (
                f"The structure rises {height} metres above the ground.",
                f"How tall is the {name}?",
                f"{height} metres",
            ),
        }
        sentences = [s for s, _, _ in facts.values()] + rng.sample(_FILLER, 3)
        rng.shuffle(sentences)
        doc_id = f"syn-{i}"
        corpus.append({"id": doc_id, "title": name, "text": " ".join(sentences)})
        _, question, answer = facts[rng.choice(list(facts))]
        pairs.append(
            QAPair(
                id=f"syn-q{i}", question=question, answers=[answer], gold_doc_ids=[doc_id], source="synthetic"
            )
        )
    return PublicQA("synthetic", pairs, corpus)
