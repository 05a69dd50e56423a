"""Test-wide settings: no hub access ever, and a throwaway workspace per test unless a test asks otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# Real models are converted once into the user's workspace (as `groundtune models pull` would) and reused.
MODEL_HOME = Path(os.environ.get("GROUNDTUNE_HOME") or Path.home() / ".groundtune")


@pytest.fixture(autouse=True)
def _workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "gt-home"
    monkeypatch.setenv("GROUNDTUNE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def model_home() -> Path:
    """The workspace holding the converted Gemma cache (shared across the session)."""
    return MODEL_HOME


def shared_data(name: str) -> Path:
    """Path of a dataset in ../shared/data; skips the test with a clear reason when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not present (the shared datasets are provided beside the repository)")
    return path
