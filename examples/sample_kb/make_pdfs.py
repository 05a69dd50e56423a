"""Render the sample knowledge base's PDF documents from their text sources, byte for byte reproducibly.

Each `pdf_src/<name>.txt` becomes `docs/<name>.pdf`: the first line is the title (also written to the
PDF metadata, which is where the knowledge base parser reads a PDF's title), lines starting with `## `
are section headings, and blank lines separate paragraphs. ReportLab's invariant mode fixes the
creation date and document id, so re-running gives identical bytes and git sees no change.

Run from the repository root:  .venv/bin/python examples/sample_kb/make_pdfs.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_source(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(title, [(kind, text)]) where kind is "h2" or "p"; paragraph lines are joined with spaces."""
    lines = text.strip().splitlines()
    title, blocks, para = lines[0].strip(), [], []
    for line in [*lines[1:], ""]:
        stripped = line.strip()
        if stripped.startswith("## ") or not stripped:
            if para:
                blocks.append(("p", " ".join(para)))
                para = []
            if stripped:
                blocks.append(("h2", stripped[3:].strip()))
        else:
            para.append(stripped)
    return title, blocks


def render(src: Path, out: Path) -> None:
    from reportlab import rl_config

    rl_config.invariant = 1  # fixed dates and ids: identical bytes on every run
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    title, blocks = parse_source(src.read_text(encoding="utf-8"))
    styles = getSampleStyleSheet()
    story = [Paragraph(title, styles["Title"]), Spacer(1, 4 * mm)]
    for kind, text in blocks:
        style = styles["Heading2"] if kind == "h2" else styles["BodyText"]
        story.append(Paragraph(text.replace("&", "&amp;").replace("<", "&lt;"), style))
    doc = SimpleDocTemplate(
        str(out), pagesize=A4, title=title, author="Harrowgate Valley Light Railway Trust",
        subject="Sample knowledge base for groundtune (invented subject)", creator="make_pdfs.py",
        leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm, bottomMargin=20 * mm,
    )
    doc.build(story)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=HERE / "pdf_src", help="folder of .txt sources")
    parser.add_argument("--out", type=Path, default=HERE / "docs", help="folder for the .pdf files")
    args = parser.parse_args()
    sources = sorted(args.src.glob("*.txt"))
    if not sources:
        raise SystemExit(f"no .txt sources in {args.src}")
    args.out.mkdir(parents=True, exist_ok=True)
    for src in sources:
        out = args.out / f"{src.stem}.pdf"
        render(src, out)
        print(f"{out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
