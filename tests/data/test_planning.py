"""Context planning invariants over arbitrary retriever results (pure logic; the KB-backed path is
covered in test_build.py)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from groundtune.core.schemas import Chunk
from groundtune.data.labelling import AMBIGUOUS, IRRELEVANT, RELEVANT, Label
from groundtune.data.planning import GOLD, HARD, Candidate, plan_context
from groundtune.data.sources import QAPair

VERDICTS = st.sampled_from([RELEVANT, IRRELEVANT, IRRELEVANT, AMBIGUOUS])


def cand(i: int, verdict: str, kind: str = HARD) -> Candidate:
    c = Chunk(id=f"c{i}", doc_id=f"d{i % 7}", title="t", text=f"text {i}", start=0, end=6)
    return Candidate(c, Label(verdict, "test"), GOLD if verdict == RELEVANT else kind, rank=i + 1)


POOL = [
    Chunk(id=f"r{i}", doc_id=f"rd{i % 5}", title="r", text=f"random {i}", start=0, end=8) for i in range(30)
]


def random_pool(n: int, exclude: set[str], rng: random.Random) -> list[Chunk]:
    return [c for c in rng.sample(POOL, min(len(POOL), n + len(exclude))) if c.id not in exclude][:n]


@settings(max_examples=200, deadline=None)
@given(
    verdicts=st.lists(VERDICTS, max_size=20),
    k=st.integers(1, 6),
    p=st.floats(0, 1),
    share=st.floats(0, 1),
    forbidden=st.sets(st.sampled_from([f"d{i}" for i in range(7)] + ["rd0", "rd1"]), max_size=4),
    seed=st.integers(0, 3),
    answerable=st.booleans(),
)
def test_plan_invariants(
    verdicts: list[str], k: int, p: float, share: float, forbidden: set[str], seed: int, answerable: bool
) -> None:
    hits = [cand(i, v) for i, v in enumerate(verdicts)]
    relevant = [c for c in hits if c.label.relevant]
    pair = QAPair(id="q1", question="?", answers=["x"] if answerable else [], answerable=answerable)
    kwargs = dict(
        k=k,
        oracle_fraction=p,
        random_share=share,
        max_relevant=2,
        seed=seed,
        forbidden_docs=forbidden,
        random_pool=random_pool,
    )
    plan = plan_context(pair, hits, relevant if answerable else [], **kwargs)  # type: ignore[arg-type]
    if answerable and not relevant:
        assert plan.dropped == "no_relevant_chunk"
        return
    again = plan_context(pair, hits, relevant if answerable else [], **kwargs)  # type: ignore[arg-type]
    assert [c.chunk.id for c in plan.candidates] == [c.chunk.id for c in again.candidates]
    ctx = plan.candidates
    assert len(ctx) <= k and len({c.chunk.id for c in ctx}) == len(ctx)
    assert not any(c.chunk.doc_id in forbidden for c in ctx)
    assert not any(c.label.verdict == AMBIGUOUS for c in ctx)
    n_relevant = sum(c.label.relevant for c in ctx)
    assert (n_relevant > 0) == plan.oracle
    assert n_relevant <= 2
    if not answerable:
        assert not plan.oracle


def test_oracle_share_follows_p_and_positions_vary() -> None:
    hits = [cand(0, RELEVANT)] + [cand(i, IRRELEVANT) for i in range(1, 12)]
    oracle, positions = 0, set()
    for n in range(400):
        pair = QAPair(id=f"q{n}", question="?", answers=["x"])
        plan = plan_context(
            pair,
            hits,
            hits[:1],
            k=4,
            oracle_fraction=0.8,
            random_share=0.0,
            max_relevant=2,
            seed=0,
            forbidden_docs=set(),
            random_pool=random_pool,
        )
        if plan.oracle:
            oracle += 1
            positions.add([c.label.relevant for c in plan.candidates].index(True))
        assert len(plan.candidates) == 4
    assert 0.74 <= oracle / 400 <= 0.86
    assert positions == {0, 1, 2, 3}
