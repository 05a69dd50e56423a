"""Loaders for the public QA benchmarks in `../shared/data/`: NQ-open oracle and ClapNQ.

Each returns the QA pairs (with gold document ids and evidence) and the corpus records
(`{"id", "title", "text"}`) to ingest into a knowledge base with `groundtune kb`, so gold ids
match document ids. The expected layouts are the public releases, documented in docs/data.md.
This module reads files; it never downloads anything.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.ids import content_hash
from groundtune.data.sources import QAPair, as_list

NQ_OPEN_ORACLE_FILES = ("nq-open-oracle.jsonl.gz", "nq-open-oracle.jsonl")


@dataclass
class PublicQA:
    """QA pairs of a public benchmark plus the corpus they are grounded in."""

    name: str
    pairs: list[QAPair]
    corpus: list[dict[str, str]] = field(default_factory=list)

    def write_corpus(self, path: str | Path) -> Path:
        """The corpus as JSONL records (`id`, `title`, `text`) for `groundtune kb add`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for record in self.corpus:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        return path


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(
                    f"{path}#{n}: invalid JSON ({exc.msg})", hint="the file must be JSON lines"
                ) from None
            yield n, row


def _missing(path: Path, what: str) -> NotFoundError:
    return NotFoundError(
        f"{path} does not hold {what}",
        hint="put the public release there (see docs/data.md, 'Public benchmarks')",
    )


def load_nq_open_oracle(path: str | Path, limit: int | None = None) -> PublicQA:
    """NQ-open oracle ("Lost in the Middle" release): one gold Wikipedia passage per question.

    `path` is the file `nq-open-oracle.jsonl[.gz]` or a folder holding it. Each line has `question`,
    `answers` and `ctxs` (passages with `id`, `title`, `text`, `isgold`, `hasanswer`); the gold
    passage becomes both the question's gold document and a corpus record.
    """
    path = Path(path)
    if path.is_dir():
        found = [path / name for name in NQ_OPEN_ORACLE_FILES if (path / name).exists()]
        if not found:
            raise _missing(path, " or ".join(NQ_OPEN_ORACLE_FILES))
        path = found[0]
    if not path.exists():
        raise _missing(path, "the NQ-open oracle file")
    pairs: list[QAPair] = []
    corpus: dict[str, dict[str, str]] = {}
    for n, row in _jsonl(path):
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
            doc_id = f"nq-{ctx['id']}" if ctx.get("id") else "nq-" + content_hash(
                ctx.get("title", ""), ctx["text"], length=12
            )
            doc_ids.append(doc_id)
            corpus.setdefault(doc_id, {"id": doc_id, "title": ctx.get("title", ""), "text": ctx["text"]})
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


def _clapnq_passages(root: Path) -> list[dict[str, str]]:
    tsv = root / "retrieval" / "passages.tsv"
    if not tsv.exists():
        return []
    csv.field_size_limit(1 << 30)
    with tsv.open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        return [
            {"id": r["id"], "title": r.get("title") or "", "text": r["text"]} for r in reader if r.get("text")
        ]


def _clapnq_doc_ids(root: Path, split: str) -> dict[str, list[str]]:
    """Question id -> gold passage ids, from retrieval/<split>/question_<split>_*.tsv."""
    ids: dict[str, list[str]] = {}
    for kind in ("answerable", "unanswerable"):
        tsv = root / "retrieval" / split / f"question_{split}_{kind}.tsv"
        if tsv.exists():
            reader = csv.DictReader(io.StringIO(tsv.read_text(encoding="utf-8")), delimiter="\t")
            for r in reader:
                ids[str(r["id"])] = as_list(r.get("doc-id-list"), split=True)
    return ids


def load_clapnq(
    path: str | Path, split: str = "dev", *, unanswerable: bool = True, limit: int | None = None
) -> PublicQA:
    """ClapNQ (primeqa/clapnq layout): `annotated_data/<split>/clapnq_<split>_{answerable,unanswerable}.jsonl`
    with `id`, `input`, `passages` and `output` (`answer`, `selected_sentences`); gold passage ids from
    `retrieval/<split>/question_<split>_*.tsv` and the corpus from `retrieval/passages.tsv`.
    Unanswerable questions become pairs with `answerable=False`. `limit` caps the pairs of each kind.
    """
    root = Path(path)
    kinds = ["answerable", "unanswerable"] if unanswerable else ["answerable"]
    files = [root / "annotated_data" / split / f"clapnq_{split}_{kind}.jsonl" for kind in kinds]
    if not files[0].exists():
        raise _missing(root, f"annotated_data/{split}/clapnq_{split}_answerable.jsonl")
    gold_ids = _clapnq_doc_ids(root, split)
    pairs: list[QAPair] = []
    fallback_corpus: dict[str, dict[str, str]] = {}
    for file, kind in zip(files, kinds, strict=True):
        if not file.exists():
            continue
        for n, row in _jsonl(file):
            if limit and n > limit:
                break
            qid = str(row["id"])
            outputs = [o for o in row.get("output") or [] if o and o.get("answer")]
            answers = [str(o["answer"]).strip() for o in outputs]
            evidence = [
                s.rstrip("&").strip()
                for o in outputs
                for s in o.get("selected_sentences") or []
                if s.strip("&")
            ]
            passages = row.get("passages") or []
            doc_ids = list(gold_ids.get(qid, []))
            if len(doc_ids) != len(passages):
                # The retrieval ids name the annotated passages one to one; without them (or unanswerable
                # rows, whose id list is empty) the annotated passage gets an id of its own.
                doc_ids = [f"clapnq-{qid}-{i}" for i in range(len(passages))]
            for doc_id, p in zip(doc_ids, passages, strict=True):
                # The release ships no passage corpus (retrieval/passages.tsv): the annotated passages
                # are the corpus, unanswerable rows' same-page passages included (near-miss contexts).
                fallback_corpus.setdefault(
                    doc_id, {"id": doc_id, "title": p.get("title", ""), "text": p["text"]}
                )
            pairs.append(
                QAPair(
                    id=f"clapnq-{split}-{qid}",
                    question=str(row["input"]).strip(),
                    answers=answers if kind == "answerable" else [],
                    answerable=kind == "answerable" and bool(answers),
                    gold_doc_ids=doc_ids if kind == "answerable" else [],
                    gold_evidence=list(dict.fromkeys(evidence)),
                    source="clapnq",
                    meta={"clapnq_kind": kind, "passage_ids": doc_ids},
                )
            )
    corpus = _clapnq_passages(root) or list(fallback_corpus.values())
    return PublicQA("clapnq", pairs, corpus)
