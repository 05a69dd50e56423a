"""RGB counterfactual robustness (`en_fact.json`): the passages that answer a question have had the
true answer replaced by a false one. A grounded model answers with the documents' value, not with what
it remembers: the documents' (counterfactual) value is the gold answer, the true one is kept in meta
as `world_answer` so evaluation can tell following the documents from answering from memory."""

from __future__ import annotations

from pathlib import Path

from groundtune.core.jsonl import read_jsonl
from groundtune.data.public.common import PublicQA, doc_id, find_file, record
from groundtune.data.sources import QAPair, as_list

RGB_FILES = ("en_fact.json",)


def _flat(value: object) -> list[str]:
    """Answers as a flat list: the release nests alternative date formats one list deeper."""
    if isinstance(value, list):
        return [a for v in value for a in _flat(v)]
    return as_list(value, split=False)


def load_rgb_counterfactual(path: str | Path, *, limit: int | None = None) -> PublicQA:
    path = find_file(path, RGB_FILES, "the RGB en_fact.json file")
    pairs: list[QAPair] = []
    corpus: dict[str, dict[str, str]] = {}
    for n, row in read_jsonl(path):
        gold: list[str] = []
        for kind in ("positive_wrong", "negative"):
            for text in row.get(kind) or []:
                doc = doc_id("rgb", "", text.strip())
                corpus.setdefault(doc, record(doc, "", text.strip()))
                if kind == "positive_wrong":
                    gold.append(doc)
        fake = as_list(row.get("fakeanswer"), split=False)
        if not gold or not fake:
            continue
        pairs.append(
            QAPair(
                id=f"rgb-{row.get('id', n)}",
                question=str(row["query"]).strip(),
                answers=fake,
                gold_doc_ids=list(dict.fromkeys(gold)),
                source="rgb_counterfactual",
                meta={"counterfactual": True, "world_answer": _flat(row.get("answer"))},
            )
        )
        if limit and len(pairs) >= limit:
            break
    return PublicQA("rgb_counterfactual", pairs, list(corpus.values()))
