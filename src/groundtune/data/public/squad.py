"""SQuAD 2.0 (`dev-v2.0.json` nesting): answer spans from one paragraph, and unanswerable questions
written against that same paragraph, which they keep as a near-miss context (it names the topic and
holds a plausible wrong span, so only reading closely tells it does not answer)."""

from __future__ import annotations

import json
from pathlib import Path

from groundtune.core.errors import InvalidInputError
from groundtune.data.public.common import PublicQA, doc_id, find_file, record
from groundtune.data.sources import QAPair

SQUAD_FILES = ("dev-v2.0.json", "train-v2.0.json")


def load_squad2(path: str | Path, *, unanswerable: bool = True, limit: int | None = None) -> PublicQA:
    """Every paragraph becomes a document (title = the article's); answerable questions name it as gold,
    unanswerable ones as near-miss. `limit` caps the questions read."""
    path = find_file(path, SQUAD_FILES, "a SQuAD 2.0 JSON file")
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise InvalidInputError(
            f"{path}: not a SQuAD 2.0 file", hint="expected {'data': [{title, paragraphs: [...]}]}"
        ) from None
    pairs: list[QAPair] = []
    corpus: dict[str, dict[str, str]] = {}
    for article in articles:
        title = str(article.get("title", "")).replace("_", " ")
        for paragraph in article["paragraphs"]:
            text = paragraph["context"]
            doc = doc_id("squad", title, text)
            corpus.setdefault(doc, record(doc, title, text))
            for qa in paragraph["qas"]:
                impossible = bool(qa.get("is_impossible")) or not qa.get("answers")
                if impossible and not unanswerable:
                    continue
                answers = list(dict.fromkeys(a["text"].strip() for a in qa.get("answers") or []))
                plausible = [a["text"] for a in qa.get("plausible_answers") or []]
                pairs.append(
                    QAPair(
                        id=f"squad2-{qa['id']}",
                        question=qa["question"].strip(),
                        answers=[] if impossible else answers,
                        answerable=not impossible,
                        gold_doc_ids=[] if impossible else [doc],
                        near_miss_doc_ids=[doc] if impossible else [],
                        source="squad2",
                        meta={"plausible_answer": plausible[0]} if plausible else {},
                    )
                )
                if limit and len(pairs) >= limit:
                    return PublicQA("squad2", pairs, list(corpus.values()))
    return PublicQA("squad2", pairs, list(corpus.values()))
