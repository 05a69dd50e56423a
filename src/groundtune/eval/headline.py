"""The figures people see first: which metrics, in what order, under which label, and which way is
better. They live in `core.figures` (the web UI reads them too); this module keeps the eval stage's
name for them.
"""

from __future__ import annotations

from groundtune.core.figures import FIGURES, HEADLINE, HEADLINE_KEYS, Figure

__all__ = ["FIGURES", "HEADLINE", "HEADLINE_KEYS", "Figure"]
