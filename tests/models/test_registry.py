"""Registry behaviour that needs no big model: listing, errors, local paths, embedder pooling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.models import list_models, load_embedder, load_lm, pull
from groundtune.models.registry import DEFAULT_EMBEDDER, DEFAULT_LM, TINY_LM


def test_list_models_reports_kinds_and_cache_state(tmp_path: Path) -> None:
    rows = {m.name: m for m in list_models(tmp_path)}
    assert rows[DEFAULT_LM].kind == "lm" and not rows[DEFAULT_LM].cached
    assert rows[DEFAULT_EMBEDDER].cached and rows[DEFAULT_EMBEDDER].size_bytes > 50e6
    assert rows[TINY_LM].cached


def test_unknown_names_fail_with_a_fix() -> None:
    with pytest.raises(NotFoundError) as err:
        pull("gemma-9000")
    assert "registry" in str(err.value)
    with pytest.raises(NotFoundError) as err:
        load_lm("no such model here")
    assert "neither a registry name" in str(err.value)


def test_kind_mismatch_is_rejected() -> None:
    with pytest.raises(InvalidInputError):
        load_lm(DEFAULT_EMBEDDER)
    with pytest.raises(InvalidInputError):
        load_embedder(TINY_LM)


def test_local_path_loads_without_the_hub(tmp_path: Path) -> None:
    lm = load_lm(TINY_LM)
    lm.model.save_pretrained(tmp_path / "m")
    lm.tokenizer.save_pretrained(tmp_path / "m")
    again = load_lm(str(tmp_path / "m"))
    assert again.layout == lm.layout
    assert again.path == str((tmp_path / "m").resolve())


def test_real_embedder_ranks_paraphrase_above_unrelated() -> None:
    emb = load_embedder(DEFAULT_EMBEDDER)
    assert emb.pooling == "mean" and emb.normalize and emb.dim == 384
    v = emb.encode(["The cat sat on the mat.", "A feline was sitting on a rug.", "Bond yields rose sharply."])
    sims = v @ v.T
    assert sims[0, 1] > sims[0, 2] + 0.3
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
