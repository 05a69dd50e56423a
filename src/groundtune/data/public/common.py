"""What every public-benchmark loader shares: the `PublicQA` result (QA pairs plus the corpus they are
grounded in), and document ids named by content.

Loaders read files; they never download anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from groundtune.core.errors import NotFoundError
from groundtune.core.ids import content_hash
from groundtune.core.jsonl import write_jsonl
from groundtune.data.sources import QAPair


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
        return write_jsonl(path, self.corpus)


def missing(path: Path, what: str) -> NotFoundError:
    return NotFoundError(
        f"{path} does not hold {what}",
        hint="put the public release there (see docs/data.md, 'Public benchmarks')",
    )


def find_file(path: str | Path, names: tuple[str, ...], what: str) -> Path:
    """`path` itself when it is a file, else the first of `names` inside the folder `path`."""
    path = Path(path)
    if path.is_dir():
        found = [path / name for name in names if (path / name).exists()]
        if not found:
            raise missing(path, " or ".join(names))
        return found[0]
    if not path.exists():
        raise missing(path, what)
    return path


def doc_id(prefix: str, title: str, text: str) -> str:
    """A passage named by its content: the same passage under several questions is one document."""
    return f"{prefix}-" + content_hash(title, text, length=12)


def record(doc: str, title: str, text: str) -> dict[str, str]:
    return {"id": doc, "title": title, "text": text}
