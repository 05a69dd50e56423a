"""File parsers: Markdown, plain text, HTML and PDF files become `Document`s (records live in records.py).

Each parser returns the visible text with headings kept as Markdown `#` lines (so the chunker can
follow the heading structure) and raises `InvalidInputError` naming the file, the problem and the
fix. Parsers know nothing about versions, chunks or storage.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from groundtune.core.errors import InvalidInputError
from groundtune.core.ids import content_hash
from groundtune.core.schemas import Document

TEXT_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
PDF_SUFFIXES = {".pdf"}
RECORD_SUFFIXES = {".jsonl", ".ndjson", ".csv"}
SUPPORTED = sorted({*TEXT_SUFFIXES, *HTML_SUFFIXES, *PDF_SUFFIXES, *RECORD_SUFFIXES})
_DROP_TAGS = ["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "template", "svg"]
_MD_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)


def file_doc_id(path: Path) -> str:
    """Stable document id of a file: a hash of its resolved path (re-adding the file finds it again)."""
    return "doc_" + content_hash(path.resolve().as_posix())


def make_document(
    doc_id: str,
    source: str,
    title: str,
    text: str,
    *,
    fmt: str,
    tags: Iterable[str] = (),
    metadata: dict[str, Any] | None = None,
) -> Document:
    """A version-1 `Document` whose content hash covers everything a chunk copies (text, title, tags)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    meta = {"format": fmt, **(metadata or {})}
    tag_list = sorted(set(tags))
    digest = content_hash(title, text, "\x1f".join(tag_list), repr(sorted(meta.items())))
    return Document(
        id=doc_id, source=source, title=title, text=text, content_hash=digest, tags=tag_list, metadata=meta
    )


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files named directly, and every non-hidden file under named directories (sorted, recursive)."""
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for sub in sorted(path.rglob("*")):
                rel = sub.relative_to(path).parts
                if sub.is_file() and not any(p.startswith(".") for p in rel):
                    yield sub
        else:
            yield path


def read_utf8(path: Path) -> str:
    """The file's text; a clear error for missing, unreadable, non-UTF-8 or empty files."""
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file", hint="check the path")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read ({exc.strerror})", hint="check permissions") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{path}: not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})",
            hint="convert the file to UTF-8, e.g. `iconv -f latin1 -t utf-8`",
        ) from None
    if not text.strip():
        raise InvalidInputError(f"{path}: the file is empty", hint="add content or leave the file out")
    return text


def parse_text_file(path: Path, tags: Iterable[str] = ()) -> Document:
    """Markdown or plain text; a Markdown title is its first `# ` heading, else the file name."""
    fmt = TEXT_SUFFIXES[path.suffix.lower()]
    text = read_utf8(path)
    title = path.stem
    if fmt == "markdown" and (m := _MD_TITLE.search(text)):
        title = m.group(1)
    return make_document(file_doc_id(path), str(path.resolve()), title, text, fmt=fmt, tags=tags)


def html_to_markdown(html: str) -> tuple[str, str | None]:
    """(visible text with `#` heading lines, <title> or None). Scripts, styles and navigation dropped."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    if soup.head:
        soup.head.decompose()
    for level in range(1, 7):
        for h in soup.find_all(f"h{level}"):
            h.replace_with(f"\n\n{'#' * level} {h.get_text(' ', strip=True)}\n\n")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    blocks = ("p", "div", "li", "tr", "section", "article", "blockquote", "pre", "table", "ul", "ol", "dd")
    for block in soup.find_all(blocks):
        block.insert_before("\n\n")
        block.insert_after("\n\n")
    body = soup.body or soup
    text = body.get_text("")
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in text.split("\n")]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return out, title or None


def parse_html_file(path: Path, tags: Iterable[str] = ()) -> Document:
    text, title = html_to_markdown(read_utf8(path))
    if not text.strip():
        raise InvalidInputError(f"{path}: the HTML page has no visible text", hint="check the file")
    if title is None and (m := _MD_TITLE.search(text)):
        title = m.group(1)
    return make_document(
        file_doc_id(path), str(path.resolve()), title or path.stem, text, fmt="html", tags=tags
    )


def parse_pdf_file(path: Path, tags: Iterable[str] = ()) -> Document:
    """Text of every page (pypdf), pages separated by blank lines."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not path.exists():
        raise InvalidInputError(f"{path}: no such file", hint="check the path")
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise InvalidInputError(f"{path}: the PDF is encrypted", hint="decrypt it first (e.g. qpdf)")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
    except InvalidInputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise InvalidInputError(
            f"{path}: not a readable PDF ({type(exc).__name__}: {exc})",
            hint="re-export the PDF or convert it to text",
        ) from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise InvalidInputError(
            f"{path}: the PDF has no extractable text (scanned images?)", hint="run OCR on it first"
        )
    title = str(meta_title).strip() if meta_title and str(meta_title).strip() else path.stem
    return make_document(
        file_doc_id(path),
        str(path.resolve()),
        title,
        text,
        fmt="pdf",
        tags=tags,
        metadata={"pages": len(pages)},
    )


def parse_file(path: Path, tags: Iterable[str] = ()) -> Document:
    """Dispatch on the suffix; records files go through `records.parse_records` instead."""
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return parse_text_file(path, tags)
    if suffix in HTML_SUFFIXES:
        return parse_html_file(path, tags)
    if suffix in PDF_SUFFIXES:
        return parse_pdf_file(path, tags)
    raise InvalidInputError(
        f"{path}: unsupported file type '{suffix or '(none)'}'",
        hint=f"supported: {', '.join(SUPPORTED)}; convert the file or leave it out",
    )
