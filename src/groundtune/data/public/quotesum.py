"""QuoteSum (`dev.jsonl`): answers written from several numbered sources, each quoted span marked
inline as `[ k span ]`. The quoted sources are the gold documents, the spans their evidence, and
the answer is the summary with its markers resolved (a multi-document answer)."""

from __future__ import annotations

import re
from pathlib import Path

from groundtune.core.jsonl import read_jsonl
from groundtune.data.public.common import PublicQA, doc_id, find_file, record
from groundtune.data.sources import QAPair
from groundtune.grounding.quotes import find_verbatim

QUOTESUM_FILES = ("dev.jsonl", "test.jsonl", "train.jsonl")
MAX_SOURCES = 8
# `[ 2 Denitrification ]`: a source number, then the verbatim span, up to the closing bracket.
_MARK = re.compile(r"\[\s*(\d+)\s+([^\[\]]*?)\s*\]")


def load_quotesum(path: str | Path, *, limit: int | None = None) -> PublicQA:
    path = find_file(path, QUOTESUM_FILES, "a QuoteSum JSONL file")
    pairs: list[QAPair] = []
    corpus: dict[str, dict[str, str]] = {}
    for n, row in read_jsonl(path):
        docs: dict[int, str] = {}
        texts: dict[int, str] = {}
        for k in range(1, MAX_SOURCES + 1):
            text = (row.get(f"source{k}") or "").strip()
            if text:
                title = (row.get(f"title{k}") or "").strip()
                docs[k], texts[k] = doc_id("quotesum", title, text), text
                corpus.setdefault(docs[k], record(docs[k], title, text))
        summary = row.get("summary") or ""
        # About 7% of the marked spans are not verbatim in their source (edited by the writers): they are
        # not evidence, and a source none of whose spans is verbatim is not named gold.
        marks = [
            (int(k), span)
            for k, span in _MARK.findall(summary)
            if int(k) in docs and span and find_verbatim(span, texts[int(k)])
        ]
        if not marks:
            continue  # a summary that quotes nothing has no grounded answer to learn from
        answer = " ".join(_MARK.sub(lambda m: m.group(2), summary).split())
        pairs.append(
            QAPair(
                id=f"quotesum-{row.get('unique_id') or row.get('qid') or n}",
                question=str(row["question"]).strip(),
                answers=[answer],
                gold_doc_ids=list(dict.fromkeys(docs[k] for k, _ in marks)),
                gold_evidence=list(dict.fromkeys(span for _, span in marks)),
                source="quotesum",
                meta={"short_answers": [row[f"short_ans_{k}"] for k in docs if row.get(f"short_ans_{k}")]},
            )
        )
        if limit and len(pairs) >= limit:
            break
    return PublicQA("quotesum", pairs, list(corpus.values()))
