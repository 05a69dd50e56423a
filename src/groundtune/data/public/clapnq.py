"""ClapNQ (primeqa/clapnq layout): long-form answers from one Wikipedia passage, and unanswerable
questions shown a passage of the same page that does not answer them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from groundtune.core.jsonl import read_jsonl
from groundtune.data.public.common import PublicQA, missing, record
from groundtune.data.sources import QAPair, as_list


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
        raise missing(root, f"annotated_data/{split}/clapnq_{split}_answerable.jsonl")
    gold_ids = _clapnq_doc_ids(root, split)
    pairs: list[QAPair] = []
    fallback_corpus: dict[str, dict[str, str]] = {}
    for file, kind in zip(files, kinds, strict=True):
        if not file.exists():
            continue
        for n, row in read_jsonl(file):
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
                fallback_corpus.setdefault(doc_id, record(doc_id, p.get("title", ""), p["text"]))
            pairs.append(
                QAPair(
                    id=f"clapnq-{split}-{qid}",
                    question=str(row["input"]).strip(),
                    answers=answers if kind == "answerable" else [],
                    answerable=kind == "answerable" and bool(answers),
                    gold_doc_ids=doc_ids if kind == "answerable" else [],
                    near_miss_doc_ids=[] if kind == "answerable" else doc_ids,
                    gold_evidence=list(dict.fromkeys(evidence)),
                    source="clapnq",
                    meta={"clapnq_kind": kind, "passage_ids": doc_ids},
                )
            )
    corpus = _clapnq_passages(root) or list(fallback_corpus.values())
    return PublicQA("clapnq", pairs, corpus)
