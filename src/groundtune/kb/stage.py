"""The knowledge-base stage's one entry: `run(IngestConfig) -> AddSummary` (what `groundtune kb add`
does), reporting `core.progress` events. The KB operations themselves live in `manage`."""

from __future__ import annotations

from pathlib import Path

from groundtune.core.configs import IngestConfig
from groundtune.core.progress import Progress
from groundtune.kb.ingest import AddSummary


def run(
    config: IngestConfig, *, home: str | Path | None = None, progress: Progress | None = None
) -> AddSummary:
    """Ingest `config.inputs` into knowledge base `config.kb`; per-file errors are in the summary."""
    from groundtune.kb.manage import add

    return add(
        config.kb,
        [Path(p) for p in config.inputs],
        id_field=config.id_field,
        title_field=config.title_field,
        text_field=config.text_field,
        tags_field=config.tags_field,
        tags=config.tags,
        progress=progress,
        home=home,
    )
