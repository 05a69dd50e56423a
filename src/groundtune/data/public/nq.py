"""NQ-open oracle ("Lost in the Middle" release): one gold Wikipedia passage per question."""

from __future__ import annotations

from pathlib import Path

from groundtune.core.errors import InvalidInputError
from groundtune.core.jsonl import read_jsonl
from groundtune.data.public.common import PublicQA, doc_id, find_file, record
from groundtune.data.sources import QAPair, as_list

NQ_OPEN_ORACLE_FILES = ("nq-open-oracle.jsonl.gz", "nq-open-oracle.jsonl")


def load_nq_open_oracle(path: str | Path, limit: int | None = None) -> PublicQA:
    """NQ-open oracle ("Lost in the Middle" release): one gold Wikipedia passage per question.

    `path` is the file `nq-open-oracle.jsonl[.gz]` or a folder holding it. Each line has `question`,
    `answers` and `ctxs` (passages with `id`, `title`, `text`, `isgold`, `hasanswer`); the gold
    passage becomes both the question's gold document and a corpus record.
    """
    path = find_file(path, NQ_OPEN_ORACLE_FILES, "the NQ-open oracle file")
    pairs: list[QAPair] = []
    corpus: dict[str, dict[str, str]] = {}
    for n, row in read_jsonl(path):
        ctxs = row.get("ctxs") or []
        gold = [c for c in ctxs if c.get("isgold")] or ctxs[:1]
        if not row.get("question") or not gold:
            raise InvalidInputError(
                f"{path}#{n}: expected 'question' and 'ctxs' with a gold passage",
                hint="use the nq-open-oracle release of 'Lost in the Middle'",
            )
        doc_ids = []
        for ctx in gold:
            # The release's passages carry no id: a passage is named by its content, so a passage that
            # is gold for several questions is one document.
            doc = f"nq-{ctx['id']}" if ctx.get("id") else doc_id("nq", ctx.get("title", ""), ctx["text"])
            doc_ids.append(doc)
            corpus.setdefault(doc, record(doc, ctx.get("title", ""), ctx["text"]))
        pairs.append(
            QAPair(
                id=f"nq-open-oracle-{n}",
                question=row["question"].strip(),
                answers=as_list(row.get("answers"), split=False),
                gold_doc_ids=doc_ids,
                source="nq_open_oracle",
                meta={"hasanswer": bool(gold[0].get("hasanswer", True))},
            )
        )
        if limit and len(pairs) >= limit:
            break
    return PublicQA("nq_open_oracle", pairs, list(corpus.values()))
