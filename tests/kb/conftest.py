"""Knowledge-base fixtures: a small document set on disk, KBs on the tiny embedder (the PostgreSQL server
fixture `postgres_url` lives in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

TINY = "tiny-random-minilm"

DOCS = {
    "warranty.md": "# Warranty policy\n\n## Coverage\nAll products carry a warranty of 24 months from the date of "
    "purchase. Batteries are covered for 12 months.\n\n## Exclusions\nWater damage is not covered. Accidental "
    "drops are not covered either.\n",
    "office.txt": "The office opens at 9 am and closes at 5 pm on weekdays. Visitors sign in at reception.\n",
    "returns.html": "<html><head><title>Returns</title><style>p{color:red}</style><script>var secret=1;</script>"
    "</head><body><nav>Home | About | Contact</nav><h1>Returns</h1><p>You can return items within 30 days "
    "of delivery.</p><h2>Refunds</h2><p>Refunds reach your card within 5 business days.</p>"
    "<footer>Copyright footer</footer></body></html>",
    "shipping.jsonl": '{"id": "ship-1", "title": "Shipping", "text": "Shipping takes 3 to 5 days within the '
    'country.", "tags": ["logistics"]}\n{"id": "ship-2", "title": "Express", "text": "Express shipping '
    'arrives the next day for an extra fee."}\n',
}


@pytest.fixture()
def docs_dir(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    for name, text in DOCS.items():
        (d / name).write_text(text)
    return d


@pytest.fixture()
def make_kb(tmp_path: Path) -> Iterator:
    """make_kb(name, **create_kwargs) -> open KnowledgeBase (closed at teardown)."""
    from groundtune import kb as kbmod

    opened = []

    def make(name: str = "t", **kw: object):
        kw.setdefault("embedder", TINY)
        kbmod.create(name, **kw)  # type: ignore[arg-type]
        kb = kbmod.open_kb(name)
        opened.append(kb)
        return kb

    yield make
    for kb in opened:
        kb.close()
