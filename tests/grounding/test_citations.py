"""Citation renumbering: one pass over the markers, so a swap never rewrites a marker twice."""

from __future__ import annotations

from groundtune.grounding.citations import renumber_citations


def test_renumbering_rewrites_each_marker_once() -> None:
    assert renumber_citations("A [1], B [2].", {1: 2, 2: 1}) == "A [2], B [1]."
    assert renumber_citations("A [3] and [5].", {3: 1}) == "A [1] and [5]."  # unmapped kept
    assert renumber_citations("Both [2, 4].", {2: 1, 4: 2}) == "Both [1, 2]."  # grouped markers too
    assert renumber_citations("In 2024 [10].", {10: 1, 2024: 9}) == "In 2024 [1]."  # only inside markers
