"""The data stage's one entry: `run(BuildConfig) -> DatasetCard` (what `groundtune data build` does),
reporting `core.progress` events. `build.build_dataset` is the same with the examples returned too."""

from __future__ import annotations

from pathlib import Path

from groundtune.core.artifacts import DatasetCard
from groundtune.core.configs import BuildConfig
from groundtune.core.progress import Progress


def run(
    config: BuildConfig, *, home: str | Path | None = None, progress: Progress | None = None
) -> DatasetCard:
    """Build and store the dataset `config` describes; returns its card."""
    from groundtune.data.build import build_dataset

    return build_dataset(config, progress=progress, home=home).card
