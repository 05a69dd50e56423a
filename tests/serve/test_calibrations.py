"""Which calibration a served adapter abstains with: the one named, else its latest (said so)."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundtune.core.adapters import AdapterRef
from groundtune.core.artifacts import AdapterManifest
from groundtune.core.calibrations import write_calibration
from groundtune.core.errors import InvalidInputError
from groundtune.serve.calibrations import choose
from tests.core.test_calibrations import calibration


def test_named_calibrations_win_and_others_get_their_latest(tmp_path: Path) -> None:
    a = AdapterRef("a", tmp_path / "a", AdapterManifest(run_id="run_a"))
    b = AdapterRef("b", tmp_path / "b", AdapterManifest(run_id="run_b"))
    for name, ref in (("a-old", a), ("a-new", a), ("b-only", b)):
        write_calibration(calibration(name, ref))
    chosen = choose({"served-a": a, "served-b": b}, ["a-old"])
    assert chosen["served-a"].calibration.name == "a-old" and chosen["served-a"].named
    assert chosen["served-b"].calibration.name == "b-only" and not chosen["served-b"].named
    assert "the adapter's latest" in chosen["served-b"].describe()
    assert "named" in chosen["served-a"].describe() and "0.500" in chosen["served-a"].describe()
    assert choose({"served-a": a}, [])["served-a"].calibration.name == "a-new"


def test_a_calibration_of_an_adapter_not_served_is_refused(tmp_path: Path) -> None:
    a = AdapterRef("a", tmp_path / "a", AdapterManifest(run_id="run_a"))
    write_calibration(calibration("of-a", a))
    with pytest.raises(InvalidInputError, match="does not serve"):
        choose({"b": AdapterRef("b", tmp_path / "b", AdapterManifest(run_id="run_b"))}, ["of-a"])


def test_the_description_says_which_documents_replies_may_name(tmp_path: Path) -> None:
    a = AdapterRef("a", tmp_path / "a", AdapterManifest(run_id="run_a"))
    gated = calibration("gated", a).model_copy(
        update={"signal": "answerability", "gate": 0.4, "relevance_margin": 0.05, "list_all": True}
    )
    write_calibration(gated)
    text = choose({"a": a}, ["gated"])["a"].describe()
    assert "refuses when the documents' answerability < 0.400" in text
    assert "names as relevant every document within 0.05" in text
    write_calibration(calibration("plain", a))
    assert "names as relevant" not in choose({"a": a}, ["plain"])["a"].describe()
