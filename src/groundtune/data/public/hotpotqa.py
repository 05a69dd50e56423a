"""HotpotQA, distractor setting (`hotpot_distractor_sample100.json`): ten paragraphs per question, two
of them gold (named by the supporting facts, whose sentences are the evidence) and eight distractors
chosen by the dataset's authors. Every paragraph is a document of the corpus."""

from __future__ import annotations

import json
from pathlib import Path

from groundtune.core.errors import InvalidInputError
from groundtune.data.public.common import PublicQA, doc_id, find_file, record
from groundtune.data.sources import QAPair

HOTPOT_FILES = ("hotpot_distractor_sample100.json", "hotpot_dev_distractor_v1.json")


def load_hotpotqa(path: str | Path, *, limit: int | None = None) -> PublicQA:
    path = find_file(path, HOTPOT_FILES, "a HotpotQA distractor JSON file")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path}: invalid JSON ({exc.msg})", hint="expected a JSON array") from None
    pairs: list[QAPair] = []
    corpus: dict[str, dict[str, str]] = {}
    for row in rows[:limit] if limit else rows:
        context = row["context"]
        titles = context["title"] if isinstance(context, dict) else [t for t, _ in context]
        sentences = context["sentences"] if isinstance(context, dict) else [s for _, s in context]
        docs: dict[str, str] = {}
        for title, sents in zip(titles, sentences, strict=True):
            text = "".join(sents).strip()
            docs[title] = doc_id("hotpot", title, text)
            corpus.setdefault(docs[title], record(docs[title], title, text))
        facts = row["supporting_facts"]
        fact_pairs = (
            list(zip(facts["title"], facts["sent_id"], strict=True)) if isinstance(facts, dict) else facts
        )
        evidence = [
            sentences[titles.index(t)][i].strip()
            for t, i in fact_pairs
            if t in titles and i < len(sentences[titles.index(t)])
        ]
        pairs.append(
            QAPair(
                id=f"hotpotqa-{row['id']}",
                question=str(row["question"]).strip(),
                answers=[str(row["answer"]).strip()],
                gold_doc_ids=list(dict.fromkeys(docs[t] for t, _ in fact_pairs if t in docs)),
                gold_evidence=list(dict.fromkeys(evidence)),
                source="hotpotqa",
                meta={"type": row.get("type", ""), "distractor_doc_ids": [d for d in docs.values()]},
            )
        )
    return PublicQA("hotpotqa", pairs, list(corpus.values()))
