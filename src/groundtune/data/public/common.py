"""What every public-benchmark loader shares: the `PublicQA` result (QA pairs plus the corpus they are
grounded in), the JSONL reader with file/line errors, and document ids named by content.

Loaders read files; they never download anything.
"""

from __future__ import annotations

import bz2
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.core.ids import content_hash
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
        with path.open("w", encoding="utf-8") as fh:
            for record in self.corpus:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        return path


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of a JSON-lines file, plain, .gz or .bz2."""
    opener: Any = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
    with opener(path, "rt", encoding="utf-8") as fh:
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
