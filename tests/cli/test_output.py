"""What the CLI prints: user names as written (no markup, no emoji codes), no stray blank lines
after progress bars, and the libraries' internal deprecation notices kept out of the way."""

from __future__ import annotations

import io
import warnings

import pytest
from rich.console import Console

from groundtune.cli import app as cli_app
from groundtune.core.progress import ProgressEvent


def _captured(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(cli_app, "err_console", Console(file=out, width=100, emoji=False))
    return out


def test_progress_labels_print_user_names_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _captured(monkeypatch)
    with cli_app.progress_bars() as bars:
        advance = bars("dataset:fire:test · [bold]base", 2)
        advance(2)
    with cli_app.stage_bars() as stage:
        stage(ProgressEvent(stage=":smile: parse", done=1, total=1))
    text = out.getvalue()
    assert "dataset:fire:test · [bold]base" in text and ":smile: parse" in text
    assert "🔥" not in text and "😄" not in text
    assert not text.endswith("\n\n")  # finished bars are not stopped twice (a blank line each)


def test_library_deprecation_notices_are_quiet_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYTHONWARNINGS", cli_app.VERBOSE_ENV, "HF_HUB_DISABLE_PROGRESS_BARS"):
        monkeypatch.delenv(name, raising=False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        cli_app.quiet_libraries()
        warnings.warn_explicit("old arg", FutureWarning, "generic.py", 1, module="transformers.utils.generic")
        warnings.warn_explicit("your file is odd", UserWarning, "x.py", 1, module="transformers.x")
        warnings.warn_explicit("ours", FutureWarning, "x.py", 1, module="groundtune.x")
    assert [str(w.message) for w in seen] == ["your file is odd", "ours"]
    import os

    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"  # transformers' "Loading weights" bars

    monkeypatch.setenv(cli_app.VERBOSE_ENV, "1")
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        cli_app.quiet_libraries()
        warnings.warn_explicit("old arg", FutureWarning, "generic.py", 2, module="transformers.utils.generic")
    assert len(seen) == 1 and "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ
