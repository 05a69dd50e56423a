"""Benchmark suites that come with their own contexts, read from `../shared/data` (never copied here).

- `hotpotqa`: the distractor setting (2 gold paragraphs + 8 distractors per question);
- `rgb-counterfactual`: RGB's counterfactual documents: the answer must follow the documents
  (the gold answer is the counterfactual one; the memorised real answer is kept in meta);
- `mtrag-un`: MTRAG turns with their reference passages, answerable versus unanswerable;
- `injection[:dataset:NAME[:SPLIT]]`: held-out items with an instruction planted in one document of
  each answerable item (`data.injection`), scored by whether the reply obeys it. Alone it plants into
  HotpotQA's fixed held-out part (the questions the general stage never trains on; the training part
  gives the demonstrations), else into a dataset's held-out split (`test` unless given, or
  `validation`; never `train`).
A dataset's held-out split and the KB-backed suites (NQ, ClapNQ) are built by `groundtune.data`
with THE retriever; this module only maps records with fixed contexts onto `Example`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.ids import content_hash
from groundtune.core.jsonl import read_jsonl
from groundtune.core.schemas import ContextDocument, Example

INJECTION = "injection"
SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """Records from a .json (array, object with a list, or one object per line) or .jsonl file, or a folder."""
    files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl")) if path.is_dir() else [path]
    for file in files:
        text = file.read_text(encoding="utf-8-sig").strip()
        if not text:
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = [row for _, row in read_jsonl(file)]
        if isinstance(data, dict):  # one record, or a wrapper such as {"data": [...]}
            wrapped = [data[k] for k in ("data", "records", "examples") if isinstance(data.get(k), list)]
            data = wrapped[0] if wrapped else [data]
        yield from (r for r in data if isinstance(r, dict))


def hotpotqa(record: dict[str, Any], n: int) -> Example | None:
    """A HotpotQA distractor record: `context` = [[title, [sentences]]], `supporting_facts` = [[title, i]]."""
    context = record.get("context") or []
    support = record.get("supporting_facts") or []
    if isinstance(context, dict):  # the columnar layout: {"title": [...], "sentences": [[...]]}
        context = list(zip(context.get("title", []), context.get("sentences", []), strict=False))
    if isinstance(support, dict):
        support = list(zip(support.get("title", []), support.get("sent_id", []), strict=False))
    gold_titles = {t for t, _ in support}
    docs, evidence = [], []
    for title, sentences in context:
        docs.append(
            ContextDocument(title=title, text="".join(sentences).strip(), relevant=title in gold_titles)
        )
        evidence += [sentences[i].strip() for t, i in support if t == title and i < len(sentences)]
    if not docs or not gold_titles:
        return None
    return Example(
        id=str(record.get("_id") or record.get("id") or f"hotpot-{n}"),
        question=str(record["question"]),
        documents=docs,
        answer=str(record.get("answer", "")),
        gold_evidence=evidence,
        source_doc_ids=sorted(gold_titles),
        meta={"suite": "hotpotqa", "type": record.get("type"), "level": record.get("level")},
    )


def rgb_counterfactual(record: dict[str, Any], n: int, *, k: int = 5) -> Example | None:
    """An RGB `en_fact` record: counterfactual documents (`positive_wrong`) and noise (`negative`)."""
    wrong = [str(t) for t in record.get("positive_wrong") or []]
    fake = record.get("fakeanswer")
    if not wrong or not fake:
        return None
    rng = random.Random(f"rgb:{record.get('id', n)}")
    n_wrong = min(len(wrong), max(1, k - 2))
    noise = [str(t) for t in record.get("negative") or []]
    docs = [ContextDocument(title="Search result", text=t, relevant=True) for t in wrong[:n_wrong]]
    docs += [ContextDocument(title="Search result", text=t, relevant=False) for t in noise[: k - n_wrong]]
    rng.shuffle(docs)
    real = record.get("answer")
    real_answers = real if isinstance(real, list) else [real]
    return Example(
        id=f"rgb-{record.get('id', n)}",
        question=str(record["query"]),
        documents=docs,
        answer=str(fake[0] if isinstance(fake, list) else fake),
        meta={"suite": "rgb-counterfactual", "memorised_answers": [str(a) for a in real_answers if a]},
    )


def mtrag_un(record: dict[str, Any], n: int) -> Example | None:
    """An MTRAG generation task: conversation `input`, reference `contexts`, `Answerability`, `targets`."""
    turns = record.get("input") or []
    users = [t.get("text", "") for t in turns if isinstance(t, dict) and t.get("speaker") == "user"]
    contexts = record.get("contexts") or []
    label = record.get("Answerability") or record.get("answerability") or []
    label = label[0] if isinstance(label, list) and label else label
    if not users or str(label).upper() not in ("ANSWERABLE", "UNANSWERABLE"):
        return None  # PARTIAL and CONVERSATIONAL turns are not part of this suite
    answerable = str(label).upper() == "ANSWERABLE"
    docs = [
        ContextDocument(
            title=str(c.get("title") or c.get("document_id") or "Passage"),
            text=str(c.get("text", "")),
            doc_id=str(c.get("document_id")) if c.get("document_id") else None,
            relevant=answerable,
        )
        for c in contexts
        if isinstance(c, dict) and c.get("text")
    ]
    targets = record.get("targets") or []
    answer = (
        str(targets[0].get("text", "")) if answerable and targets and isinstance(targets[0], dict) else ""
    )
    if not docs:
        return None
    return Example(
        id=str(record.get("task_id") or f"mtrag-{n}"),
        question=users[-1],
        documents=docs,
        answer=answer,
        answerable=answerable,
        meta={"suite": "mtrag-un", "conversation_id": record.get("conversation_id"), "turn": len(users)},
    )


SUITES: dict[str, tuple[str, Callable[[dict[str, Any], int], Example | None]]] = {
    "hotpotqa": ("hotpotqa", hotpotqa),
    "rgb-counterfactual": ("rgb", rgb_counterfactual),
    "mtrag-un": ("mtrag", mtrag_un),
}


def _locate(folder: str, data_dir: Path) -> Path:
    matches = (
        sorted(p for p in data_dir.iterdir() if p.name.lower().startswith(folder))
        if data_dir.is_dir()
        else []
    )
    if not matches:
        raise NotFoundError(
            f"no '{folder}*' dataset under {data_dir}",
            hint="the public datasets live in ../shared/data beside the repository; pass --data-dir to use another copy",
        )
    return matches[0]


def injection_source(suite: str) -> str | None:
    """The suite an `injection` suite plants into ('' for held-out HotpotQA), None for other suites;
    raises on a source that is not held out."""
    if suite != INJECTION and not suite.startswith(f"{INJECTION}:"):
        return None
    inner = suite.removeprefix(INJECTION).removeprefix(":")
    if not inner:
        return ""
    name, _, split = inner.removeprefix("dataset:").partition(":")
    if not inner.startswith("dataset:") or not name or split not in ("", "test", "validation"):
        raise InvalidInputError(
            f"{suite!r}: an injection suite plants into held-out items only",
            hint="use `injection` (HotpotQA's held-out part) or `injection:dataset:NAME[:test|:validation]`",
        )
    return inner


def hotpotqa_parts(data_dir: Path | None = None, *, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """HotpotQA distractor items as (held-out part, training part), each shuffled with `seed`. The parts
    are `groundtune.data.public`'s fixed ones, so no item is a question the general stage trains on.
    Each item has its ten paragraphs in the record's order and its gold target (quotes of the
    supporting facts), so training-part items make sound demonstrations."""
    from groundtune.data.public import HELDOUT_KEY, load_public
    from groundtune.data.targets import build_target

    data = load_public("hotpotqa", _locate("hotpotqa", data_dir or SHARED_DATA))
    corpus = {r["id"]: r for r in data.corpus}
    parts: tuple[list[Example], list[Example]] = ([], [])
    for pair in data.pairs:
        docs = [
            ContextDocument(
                title=corpus[d]["title"], text=corpus[d]["text"], doc_id=d, relevant=d in pair.gold_doc_ids
            )
            for d in pair.meta["distractor_doc_ids"]
        ]
        parts[0 if pair.meta[HELDOUT_KEY] else 1].append(
            Example(
                id=pair.id,
                question=pair.question,
                documents=docs,
                answer=pair.answer,
                target=build_target(pair, docs, max_quotes_per_doc=1),
                gold_evidence=pair.gold_evidence,
                source_doc_ids=pair.gold_doc_ids,
                meta={"suite": "hotpotqa", "gold_answers": pair.answers, "type": pair.meta.get("type")},
            )
        )
    for part in parts:
        random.Random(seed).shuffle(part)
    return parts


def load_suite(
    name: str, *, data_dir: Path | None = None, limit: int | None = None, seed: int = 0
) -> list[Example]:
    """Items of a fixed-context benchmark suite, shuffled with `seed` and cut to `limit`."""
    if name not in SUITES:
        raise InvalidInputError(f"unknown suite {name!r}", hint=f"choose one of {', '.join(SUITES)}")
    folder, convert = SUITES[name]
    path = _locate(folder, data_dir or SHARED_DATA)
    items = [ex for n, rec in enumerate(_records(path)) if (ex := convert(rec, n)) is not None]
    if not items:
        raise InvalidInputError(f"{path} holds no usable {name} records", hint="check the dataset's format")
    # Ids must be unique within a suite (records can repeat an id across files).
    seen: dict[str, int] = {}
    for ex in items:
        if ex.id in seen:
            ex.id = f"{ex.id}-{content_hash(ex.question, length=6)}"
        seen[ex.id] = 1
    random.Random(seed).shuffle(items)
    return items[:limit] if limit else items
