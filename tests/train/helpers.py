"""Hand-made grounded examples and dataset folders for the training tests (tiny model only)."""

from __future__ import annotations

from pathlib import Path

from groundtune.core.artifacts import DatasetCard, GroundingRecord, RetrieverRecord
from groundtune.core.configs import RetrieverConfig, SparseScheme
from groundtune.core.schemas import ContextDocument, Example

_FACTS = [
    ("warranty", "The warranty lasts 24 months", "24 months"),
    ("battery", "Batteries are covered for 12 months", "12 months"),
    ("founded", "The company was founded in the year 1998", "1998"),
    ("river", "The river flows into the sea near the capital", "near the capital"),
    ("offices", "The company has offices in 36 cities", "36 cities"),
    ("returns", "Returns are accepted within 100 days", "100 days"),
]


def make_examples(n: int, *, prefix: str = "ex", pad_words: int = 0) -> list[Example]:
    """`n` grounded QA examples rendered in the cited shape (prompt and completion filled)."""
    out = []
    for i in range(n):
        topic, fact, answer = _FACTS[i % len(_FACTS)]
        other = _FACTS[(i + 1) % len(_FACTS)]
        filler = " ".join(["the quick brown fox"] * (pad_words + i % 5))
        docs = [
            ContextDocument(title=f"{other[0]} policy", text=f"{other[1]}. {filler}"),
            ContextDocument(title=f"{topic} policy", text=f"{fact}. {filler}"),
        ]
        question = f"What does the {topic} document say? ({i})"
        prompt = (
            "Answer the question using only the documents below.\n\n"
            + "\n\n".join(f"[{k}] {d.title}\n{d.text}" for k, d in enumerate(docs, 1))
            + f"\n\nQuestion: {question}"
        )
        completion = f'Relevant: [2]\nQuote [2]: "{fact}"\nAnswer: {answer} [2].'
        out.append(
            Example(
                id=f"{prefix}-{i}", question=question, documents=docs, answer=answer,
                prompt=prompt, completion=completion,
            )
        )  # fmt: skip
    return out


# The card `groundtune data build` writes, for the hand-made examples above.
CARD = DatasetCard(
    id="ds_tiny",
    name="tiny-grounded",
    created_at="2025-01-01T00:00:00+00:00",
    groundtune_version="0",
    kb="tiny-kb",
    embedder="tiny-random-minilm",
    retriever=RetrieverRecord.of(
        RetrieverConfig(documents_per_prompt=2, embedder="tiny-random-minilm", sparse=SparseScheme())
    ),
    grounding=GroundingRecord(style="cited", version="1"),
    oracle_fraction=1.0,
    documents_per_prompt=2,
    seed=0,
    lm="tiny-random-gemma3",
    max_tokens=1024,
    splits={"train": 24, "validation": 6},
)


def write_dataset(root: Path, n_train: int = 24, n_val: int = 6, *, card: DatasetCard | None = None) -> Path:
    """A dataset folder in the input contract: train.jsonl, validation.jsonl, card.json."""
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("validation", n_val)):
        with (root / f"{split}.jsonl").open("w") as fh:
            for ex in make_examples(n, prefix=split):
                fh.write(ex.model_dump_json() + "\n")
    (root / "card.json").write_text((card or CARD).model_dump_json(indent=2))
    return root


def tiny_config(dataset: Path, **overrides: object) -> dict:
    """A fast config for the tiny random Gemma 3 (fp32 so results are exactly reproducible)."""
    base: dict = {
        "model": "tiny-random-gemma3",
        "dataset": str(dataset),
        "lora": {"r": 4, "alpha": 8, "dropout": 0.1},
        "batch_size": 2,
        "grad_accum": 2,
        "max_steps": 6,
        "lr": 5e-3,
        "precision": "fp32",
        "warmup_steps": 1,
        "save_every": 2,
        "eval_every": 3,
        "progress": False,
        "num_threads": 1,
    }
    base.update(overrides)
    return base
