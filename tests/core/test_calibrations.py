"""Calibration artifacts: written once, never rewritten, found by the adapter they belong to."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundtune.core.adapters import AdapterRef
from groundtune.core.artifacts import AdapterManifest
from groundtune.core.calibrations import (
    Calibration,
    latest_calibration,
    list_calibrations,
    load_calibration,
    now,
    write_calibration,
)
from groundtune.core.errors import ConflictError, NotFoundError


def calibration(name: str, ref: AdapterRef, threshold: float | None = 0.5) -> Calibration:
    return Calibration(
        name=name,
        created=now(),
        groundtune_version="0",
        adapter=ref.name,
        adapter_path=str(ref.path),
        adapter_run_id=ref.run_id,
        model="tiny-random-gemma3",
        grounding_format="cited@1",
        dataset="d",
        split="validation",
        max_false_refusal=0.1,
        threshold=threshold,
        items=12,
        answerable=9,
        false_refusal=0.0,
        refusal_recall=0.33,
    )


def test_a_calibration_is_written_once_and_read_back(tmp_path: Path) -> None:
    ref = AdapterRef("tuned", tmp_path / "tuned", AdapterManifest(run_id="run_1"))
    folder = write_calibration(calibration("cal_a", ref))
    assert folder.name == "cal_a" and (folder / "calibration.json").is_file()
    assert load_calibration("cal_a") == calibration("cal_a", ref).model_copy(
        update={"created": load_calibration("cal_a").created}
    )
    with pytest.raises(ConflictError, match="already exists"):
        write_calibration(calibration("cal_a", ref, threshold=0.9))
    assert load_calibration("cal_a").threshold == 0.5  # the stored one is untouched
    with pytest.raises(NotFoundError, match="cal_a"):  # the hint lists what is stored
        load_calibration("nope")


def test_latest_calibration_belongs_to_the_same_training_run(tmp_path: Path) -> None:
    first = AdapterRef("tuned", tmp_path / "tuned", AdapterManifest(run_id="run_1"))
    write_calibration(calibration("older", first, 0.4))
    write_calibration(calibration("newer", first, 0.6))
    retrained = AdapterRef(
        "tuned", tmp_path / "tuned", AdapterManifest(run_id="run_2")
    )  # same folder, new weights
    other = AdapterRef("other", tmp_path / "other")
    write_calibration(calibration("theirs", other))
    assert [c.name for c in list_calibrations()] == ["older", "newer", "theirs"]
    assert latest_calibration(first).name == "newer"
    assert latest_calibration(retrained) is None
    # a plain PEFT folder without a run id is matched by its folder
    assert latest_calibration(AdapterRef("renamed", tmp_path / "other")).name == "theirs"
