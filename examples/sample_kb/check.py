"""Check the sample knowledge base: documents, partition, question sets and superseding updates.

Verifies what the quickstart relies on: the document counts per format and their lengths; that the
PDFs carry the text of their sources; the train / held-out partition in `partition.json`; that every
gold evidence sentence is a verbatim span of its document's visible text as the knowledge base
parses it (whitespace-normalised); that every answer is inside its evidence; that no answerable
question is answered by a sentence of another document; that unanswerable questions (held-out, and
in training so that the model learns to refuse) carry no answer and repeat no question asked
elsewhere; and that each update changes the answer of its question. It does not judge whether the
questions are good ones; read them for that.

Run from the repository root:  .venv/bin/python examples/sample_kb/check.py
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED_FORMATS = {".md": 26, ".html": 9, ".pdf": 5}
WORDS = (150, 350)
TRAIN_QUESTIONS, TRAIN_UNANSWERABLE, TRAIN_PER_DOC = (240, 300), (40, 60), (6, 10)
HELDOUT_ANSWERABLE, HELDOUT_UNANSWERABLE, HELDOUT_PER_DOC = 44, 16, (4, 5)
MAX_ANSWER_WORDS = 6
QA_FIELDS = {"id", "question", "answers", "gold_evidence", "doc", "answerable"}
UPDATE_FIELDS = {"question", "doc", "answer_before", "answer_after", "evidence_before", "evidence_after"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9£\"'(])")
_STOP = set(
    "a an the of to in on at for by with and or is are was were be been does do did what which who whom "
    "when where why how many much long far often from into during there their its it this that can may "
    "must should per each every as than up down".split()
)


def norm(text: str) -> str:
    """Whitespace collapsed to single spaces: PDF extraction wraps lines where the source did not."""
    return " ".join(text.split())


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def visible_text(path: Path) -> str:
    """The document text exactly as the knowledge base ingests it (groundtune's own parsers)."""
    return _parsed_text(path.suffix, _digest(path), path)


@cache
def _parsed_text(suffix: str, digest: str, path: Path) -> str:
    # Keyed by content, not path: an edited file is parsed again, a copied one is not.
    from groundtune.kb.parsers import parse_file

    return parse_file(path).text


def sentences(path: Path) -> tuple[str, ...]:
    """Candidate evidence sentences of a document (headings dropped, whitespace-normalised).

    PDF sentences come from the text source, because extraction puts headings and body on adjacent
    lines; `check_pdfs` verifies that the PDF carries that text.
    """
    if path.suffix == ".pdf":
        text = (path.parent.parent / "pdf_src" / f"{path.stem}.txt").read_text(encoding="utf-8")
        return _split_sentences(text.split("\n", 1)[1])
    return _split_sentences(visible_text(path))


@cache
def _split_sentences(text: str) -> tuple[str, ...]:
    lines = text.splitlines()
    out: list[str] = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.extend(norm(s) for s in _SENTENCE_END.split(line) if s.strip())
    return tuple(out)


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9£][a-z0-9£,.'-]*[a-z0-9]|[a-z0-9]", text.lower()) if w not in _STOP}


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path.name}:{n}: not JSON ({exc})") from None
    return rows


@dataclass
class Report:
    """What was checked in one sample-KB folder: problems found and the counts seen."""

    root: Path
    problems: list[str] = field(default_factory=list)
    counts: dict[str, object] = field(default_factory=dict)

    @property
    def docs_dir(self) -> Path:
        return self.root / "docs"

    @property
    def updates_dir(self) -> Path:
        return self.root / "updates"

    @property
    def pdf_src(self) -> Path:
        return self.root / "pdf_src"

    def fail(self, message: str) -> None:
        self.problems.append(message)


def doc_paths(root: Path = HERE) -> dict[str, Path]:
    return {p.name: p for p in sorted((root / "docs").iterdir()) if p.suffix in EXPECTED_FORMATS}


def check_documents(rep: Report) -> None:
    docs = doc_paths(rep.root)
    per_format = Counter(p.suffix for p in docs.values())
    rep.counts["documents"] = {k.lstrip("."): per_format[k] for k in EXPECTED_FORMATS}
    for suffix, want in EXPECTED_FORMATS.items():
        if per_format[suffix] != want:
            rep.fail(f"docs/: {per_format[suffix]} {suffix} files, expected {want}")
    for name, path in docs.items():
        words = len(visible_text(path).split())
        if not WORDS[0] <= words <= WORDS[1]:
            rep.fail(f"{name}: {words} words, expected {WORDS[0]}-{WORDS[1]}")
        raw = path.read_bytes()
        if path.suffix == ".md" and not raw.startswith(b"# "):
            rep.fail(f"{name}: a Markdown document must start with '# Title'")
        if path.suffix == ".html":
            html = raw.decode("utf-8")
            for needle in ("<title>", "<nav", "<h1>", "<h2>", "<p>", "<script"):
                if needle not in html:
                    rep.fail(f"{name}: no {needle} element")
            if "querySelectorAll" in visible_text(path) or "font-family" in visible_text(path):
                rep.fail(f"{name}: script or style text leaked into the visible text")
    check_pdfs(rep, docs)


def check_pdfs(rep: Report, docs: dict[str, Path]) -> None:
    from groundtune.kb.parsers import parse_file

    pdfs = {p.stem for p in docs.values() if p.suffix == ".pdf"}
    sources = {p.stem for p in rep.pdf_src.glob("*.txt")}
    if pdfs != sources:
        rep.fail(f"pdf_src/*.txt and docs/*.pdf differ: {sorted(pdfs ^ sources)} (run make_pdfs.py)")
    for stem in sorted(pdfs & sources):
        pdf = rep.docs_dir / f"{stem}.pdf"
        title = (rep.pdf_src / f"{stem}.txt").read_text(encoding="utf-8").splitlines()[0]
        if parse_file(pdf).title != title.strip():
            rep.fail(f"{stem}.pdf: metadata title is not the source's first line (run make_pdfs.py)")
        text = norm(visible_text(pdf))
        for sentence in sentences(pdf):
            if sentence not in text:
                rep.fail(f"{stem}.pdf: out of date with pdf_src (missing {sentence[:50]!r}); run make_pdfs.py")
                break


def load_partition(rep: Report) -> tuple[list[str], list[str]]:
    part = json.loads((rep.root / "partition.json").read_text(encoding="utf-8"))
    train, heldout = part["train"], part["heldout"]
    docs = set(doc_paths(rep.root))
    rep.counts["partition"] = {"train": len(train), "heldout": len(heldout)}
    if len(train) != 30 or len(heldout) != 10:
        rep.fail(f"partition: {len(train)} train / {len(heldout)} held-out, expected 30 / 10")
    if set(train) & set(heldout):
        rep.fail(f"partition: in both groups: {sorted(set(train) & set(heldout))}")
    if set(train) | set(heldout) != docs:
        rep.fail(f"partition does not cover docs/ exactly: {sorted((set(train) | set(heldout)) ^ docs)}")
    for group, names in (("train", train), ("heldout", heldout)):
        missing = set(EXPECTED_FORMATS) - {Path(n).suffix for n in names}
        if missing:
            rep.fail(f"partition: the {group} group has no {sorted(missing)} documents")
    readme = (rep.root / "README.md").read_text(encoding="utf-8")
    for name in sorted(docs - {n for n in docs if n in readme}):
        rep.fail(f"README.md does not list {name}")
    return train, heldout


@dataclass
class Corpus:
    """Each document's normalised visible text and its sentences, read once per run."""

    texts: dict[str, str]
    sentences: dict[str, tuple[str, ...]]

    @classmethod
    def read(cls, root: Path) -> Corpus:
        docs = doc_paths(root)
        return cls(
            texts={name: norm(visible_text(path)) for name, path in docs.items()},
            sentences={name: sentences(path) for name, path in docs.items()},
        )


def check_answerable(rep: Report, row: dict, where: str, allowed_docs: list[str], corpus: Corpus) -> None:
    qid = row.get("id", "?")
    if row["answerable"] is not True:
        rep.fail(f"{where} {qid}: expected answerable=true")
        return
    name = row["doc"]
    if name not in allowed_docs:
        rep.fail(f"{where} {qid}: doc {name!r} is not in this set's document group")
        return
    answers, evidence = row["answers"], row["gold_evidence"]
    if not answers or not all(isinstance(a, str) and a.strip() for a in answers):
        rep.fail(f"{where} {qid}: answers must be a non-empty list of strings")
        return
    if len(answers[0].split()) > MAX_ANSWER_WORDS:
        rep.fail(f"{where} {qid}: canonical answer longer than {MAX_ANSWER_WORDS} words")
    if not isinstance(evidence, list) or len(evidence) != 1:
        rep.fail(f"{where} {qid}: gold_evidence must hold exactly one sentence")
        return
    sentence = evidence[0]
    if norm(sentence) not in corpus.texts[name]:
        rep.fail(f"{where} {qid}: gold evidence is not verbatim in {name}: {sentence!r}")
    for answer in answers:
        if answer.casefold() not in sentence.casefold():
            rep.fail(f"{where} {qid}: answer {answer!r} is not in its evidence sentence")
    for other, text in corpus.texts.items():
        if other != name and norm(sentence) in text:
            rep.fail(f"{where} {qid}: evidence sentence also appears in {other}")
    rival = rival_evidence(row, corpus)
    if rival:
        rep.fail(f"{where} {qid}: {rival[0]} also answers it: {rival[1]!r}")


def rival_evidence(row: dict, corpus: Corpus) -> tuple[str, str] | None:
    """A sentence of another document holding the answer and most of the question's words, if any."""
    answer, qwords = row["answers"][0].casefold(), content_words(row["question"])
    for other, other_sentences in corpus.sentences.items():
        if other == row["doc"]:
            continue
        for sentence in other_sentences:
            if answer in sentence.casefold() and qwords:
                overlap = len(qwords & content_words(sentence)) / len(qwords)
                if overlap >= 0.6:
                    return other, sentence
    return None


def check_qa(rep: Report, train: list[str], heldout: list[str]) -> None:
    train_rows = read_jsonl(rep.root / "qa_train.jsonl")
    held_rows = read_jsonl(rep.root / "qa_heldout.jsonl")
    ids = Counter(r.get("id") for r in [*train_rows, *held_rows])
    for qid, n in ids.items():
        if n > 1:
            rep.fail(f"id {qid!r} used {n} times")
    for where, rows in (("qa_train", train_rows), ("qa_heldout", held_rows)):
        for row in rows:
            if set(row) != QA_FIELDS:
                rep.fail(f"{where} {row.get('id')}: fields {sorted(row)}, expected {sorted(QA_FIELDS)}")
    if rep.problems:
        return
    corpus = Corpus.read(rep.root)
    train_answerable = [r for r in train_rows if r["answerable"] is not False]
    train_unanswerable = [r for r in train_rows if r["answerable"] is False]
    if not TRAIN_QUESTIONS[0] <= len(train_answerable) <= TRAIN_QUESTIONS[1]:
        rep.fail(
            f"qa_train: {len(train_answerable)} answerable questions, "
            f"expected {TRAIN_QUESTIONS[0]}-{TRAIN_QUESTIONS[1]}"
        )
    if not TRAIN_UNANSWERABLE[0] <= len(train_unanswerable) <= TRAIN_UNANSWERABLE[1]:
        rep.fail(
            f"qa_train: {len(train_unanswerable)} unanswerable questions, "
            f"expected {TRAIN_UNANSWERABLE[0]}-{TRAIN_UNANSWERABLE[1]}"
        )
    for row in train_answerable:
        check_answerable(rep, row, "qa_train", train, corpus)
    per_doc = Counter(r["doc"] for r in train_answerable)
    for name in train:
        if not TRAIN_PER_DOC[0] <= per_doc[name] <= TRAIN_PER_DOC[1]:
            rep.fail(f"qa_train: {per_doc[name]} questions on {name}, expected {TRAIN_PER_DOC[0]}-{TRAIN_PER_DOC[1]}")
    answerable = [r for r in held_rows if r["answerable"]]
    unanswerable = [r for r in held_rows if not r["answerable"]]
    rep.counts["questions"] = {
        "train_answerable": len(train_answerable), "train_unanswerable": len(train_unanswerable),
        "heldout_answerable": len(answerable), "heldout_unanswerable": len(unanswerable),
    }
    if len(answerable) != HELDOUT_ANSWERABLE or len(unanswerable) != HELDOUT_UNANSWERABLE:
        rep.fail(
            f"qa_heldout: {len(answerable)} answerable / {len(unanswerable)} unanswerable, "
            f"expected {HELDOUT_ANSWERABLE} / {HELDOUT_UNANSWERABLE}"
        )
    for row in answerable:
        check_answerable(rep, row, "qa_heldout", heldout, corpus)
    per_doc = Counter(r["doc"] for r in answerable)
    for name in heldout:
        if not HELDOUT_PER_DOC[0] <= per_doc[name] <= HELDOUT_PER_DOC[1]:
            rep.fail(f"qa_heldout: {per_doc[name]} questions on {name}, expected {HELDOUT_PER_DOC[0]}-{HELDOUT_PER_DOC[1]}")
    for where, rows in (("qa_heldout", unanswerable), ("qa_train", train_unanswerable)):
        for row in rows:
            if row["answers"] != [] or row["gold_evidence"] != [] or row["doc"] is not None:
                rep.fail(f"{where} {row['id']}: an unanswerable question needs answers=[], gold_evidence=[], doc=null")
    asked = {norm(r["question"]).casefold() for r in [*train_answerable, *answerable]}
    for row in unanswerable:
        if norm(row["question"]).casefold() in asked:
            rep.fail(f"qa_heldout {row['id']}: the same question is also asked as answerable")
    held_out = {norm(r["question"]).casefold() for r in held_rows}
    for row in train_unanswerable:
        question = norm(row["question"]).casefold()
        if question in held_out:
            rep.fail(f"qa_train {row['id']}: the same question is asked in qa_heldout")
        elif question in asked:
            rep.fail(f"qa_train {row['id']}: the same question is also asked as answerable")


def check_updates(rep: Report, heldout: list[str]) -> None:
    rows = read_jsonl(rep.root / "qa_updates.jsonl")
    updated = {p.name for p in rep.updates_dir.iterdir() if p.is_file()}
    rep.counts["updates"] = len(updated)
    docs = doc_paths(rep.root)
    if not 2 <= len(updated) <= 3:
        rep.fail(f"updates/: {len(updated)} files, expected 2 or 3")
    if {r.get("doc") for r in rows} != updated or len(rows) != len(updated):
        rep.fail("qa_updates.jsonl must hold one question per file in updates/")
    if not updated & set(heldout):
        rep.fail("updates/: at least one update must supersede a held-out document")
    for row in rows:
        if set(row) != UPDATE_FIELDS:
            rep.fail(f"qa_updates {row.get('doc')}: fields {sorted(row)}, expected {sorted(UPDATE_FIELDS)}")
            continue
        name = row["doc"]
        if name not in docs or name not in updated:
            rep.fail(f"qa_updates: {name!r} needs both docs/{name} and updates/{name}")
            continue
        before, after = norm(visible_text(docs[name])), norm(visible_text(rep.updates_dir / name))
        if row["answer_before"].casefold() == row["answer_after"].casefold():
            rep.fail(f"qa_updates {name}: the answer does not change")
        for label, text, other in (("before", before, after), ("after", after, before)):
            evidence, answer = norm(row[f"evidence_{label}"]), row[f"answer_{label}"]
            if evidence not in text:
                rep.fail(f"qa_updates {name}: evidence_{label} is not verbatim in the {label} version")
            if evidence in other:
                rep.fail(f"qa_updates {name}: evidence_{label} is unchanged in the other version")
            if answer.casefold() not in evidence.casefold():
                rep.fail(f"qa_updates {name}: answer_{label} is not in evidence_{label}")


def run_checks(root: Path = HERE) -> Report:
    """Every check on the sample KB in `root` (this folder by default)."""
    rep = Report(Path(root))
    check_documents(rep)
    train, heldout = load_partition(rep)
    check_qa(rep, train, heldout)
    check_updates(rep, heldout)
    return rep


def main() -> int:
    rep = run_checks()
    print(json.dumps(rep.counts, indent=None))
    for problem in rep.problems:
        print("FAIL", problem)
    print(f"{len(rep.problems)} problem(s)" if rep.problems else "sample knowledge base OK")
    return 1 if rep.problems else 0


if __name__ == "__main__":
    sys.exit(main())
