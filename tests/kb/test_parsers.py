"""Parsers and per-file errors: every bad-input case gets a clear error and the batch continues."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundtune.core.errors import InvalidInputError
from groundtune.kb.ingest import collect
from groundtune.kb.parsers import html_to_markdown, parse_file
from groundtune.kb.records import RecordFields, parse_records


def test_markdown_title_and_text(docs_dir: Path) -> None:
    doc = parse_file(docs_dir / "warranty.md")
    assert doc.title == "Warranty policy"
    assert "## Coverage" in doc.text and doc.metadata["format"] == "markdown"
    assert doc.id.startswith("doc_") and doc.content_hash


def test_html_keeps_headings_drops_scripts_styles_navigation() -> None:
    text, title = html_to_markdown(
        "<html><head><title>T</title><style>.a{}</style></head><body><nav>Menu</nav><header>Top</header>"
        "<h1>Main</h1><p>Visible <b>text</b>.</p><script>hidden()</script><h2>Sub</h2><ul><li>one</li>"
        "<li>two</li></ul><aside>ad</aside><footer>foot</footer></body></html>"
    )
    assert title == "T"
    assert "# Main" in text and "## Sub" in text and "Visible text." in text and "one" in text
    for gone in ("hidden", "Menu", "Top", "foot", "ad", ".a{}"):
        assert gone not in text


def test_pdf_text_and_title(tmp_path: Path) -> None:
    pytest.importorskip("reportlab")
    from reportlab.pdfgen import canvas

    path = tmp_path / "manual.pdf"
    c = canvas.Canvas(str(path))
    c.setTitle("Pump manual")
    c.drawString(72, 720, "The pump must be serviced every six months.")
    c.showPage()
    c.drawString(72, 720, "Replace the filter yearly.")
    c.save()
    doc = parse_file(path)
    assert doc.title == "Pump manual"
    assert "serviced every six months" in doc.text and "Replace the filter" in doc.text
    assert doc.metadata["pages"] == 2


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("latin1.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
        ("empty.md", b"  \n\n", "empty"),
        ("image.png", b"\x89PNG....", "unsupported file type"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "not a readable PDF"),
        ("blank.html", b"<html><body><script>x()</script></body></html>", "no visible text"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path: Path, name: str, content: bytes, problem: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInputError) as info:
        parse_file(path)
    assert problem in info.value.message and name in info.value.message
    assert info.value.hint


def test_missing_file_and_encrypted_pdf(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such file"):
        parse_file(tmp_path / "nope.md")
    pytest.importorskip("reportlab")
    from pypdf import PdfWriter
    from reportlab.pdfgen import canvas

    plain = tmp_path / "p.pdf"
    c = canvas.Canvas(str(plain))
    c.drawString(72, 720, "secret")
    c.save()
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt("pw")
    enc = tmp_path / "enc.pdf"
    with enc.open("wb") as f:
        writer.write(f)
    with pytest.raises(InvalidInputError, match="encrypted"):
        parse_file(enc)


def test_jsonl_bad_records_reported_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        '{"id": 1, "title": "A", "text": "alpha", "lang": "en"}\n{broken\n[1, 2]\n'
        '{"title": "no id", "text": "x"}\n{"id": 2, "text": "  "}\n{"id": 1, "text": "dup"}\n'
    )
    docs, errors = parse_records(path, RecordFields())
    assert [d.id for d in docs] == ["1"] and docs[0].metadata["lang"] == "en"
    msgs = " | ".join(e.message for e in errors)
    assert len(errors) == 5, msgs
    for piece in ("invalid JSON", "expected a JSON object", "no 'id'", "no text", "duplicate"):
        assert piece in msgs
    assert errors[0].source.endswith("r.jsonl#2")


def test_csv_custom_fields_and_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text('qid,question,answer,tags\nq1,Hours?,"We open at 9, close at 5.",ops;time\n')
    docs, errors = parse_records(
        path, RecordFields(id_field="qid", title_field="question", text_field="answer", tags_field="tags")
    )
    assert not errors and docs[0].title == "Hours?" and docs[0].tags == ["ops", "time"]
    assert docs[0].text == "We open at 9, close at 5."
    with pytest.raises(InvalidInputError, match="no column 'body'"):
        parse_records(path, RecordFields(id_field="qid", text_field="body"))


def test_batch_collects_errors_and_keeps_good_files(docs_dir: Path) -> None:
    (docs_dir / "bad.txt").write_bytes(b"\xff\xfe\x00")
    (docs_dir / "empty.txt").write_text("")
    (docs_dir / ".hidden.md").write_text("# secret")
    docs, errors = collect([docs_dir], RecordFields(), tags=["t1"])
    assert len(docs) == 5 and all("t1" in d.tags for d in docs)
    assert sorted(Path(e.source).name for e in errors) == ["bad.txt", "empty.txt"]
    assert all(e.hint for e in errors)
