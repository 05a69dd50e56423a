"""Per-request LoRA adapters: mixed batches, base rows untouched, merged fast path, load/unload."""

from __future__ import annotations

import pytest

from groundtune.core.errors import ConflictError, InvalidInputError, NotFoundError
from groundtune.infer import Engine


@pytest.fixture(scope="module")
def multi(adapter_dirs):  # type: ignore[no-untyped-def]
    return Engine.load("tiny-random-gemma3", adapters=adapter_dirs, dtype="float32")


def test_mixed_adapter_batch_equals_each_adapter_alone(multi, engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    prompts = make_requests()
    per = {name: make_requests(adapter=name, max_new_tokens=16) for name in (None, "alpha", "beta")}
    # one batch holding base, alpha and beta rows, interleaved
    mixed_reqs = [per[[None, "alpha", "beta"][i % 3]][i % len(prompts)] for i in range(9)]
    mixed = multi.generate(mixed_reqs)
    for req, res in zip(mixed_reqs, mixed, strict=True):
        alone = multi.generate([req])[0]
        assert res.text == alone.text, req.adapter
    # base rows are exactly what an engine without adapters produces
    plain = engine.generate(per[None])
    assert [r.text for r in multi.generate(per[None])] == [r.text for r in plain]
    # and the adapters really change the output
    alpha = multi.generate(per["alpha"])
    beta = multi.generate(per["beta"])
    assert [r.text for r in alpha] != [r.text for r in plain]
    assert [r.text for r in beta] != [r.text for r in plain]
    assert [r.text for r in alpha] != [r.text for r in beta]


def test_merged_path_equals_unmerged_adapter(multi, adapter_dirs, make_requests) -> None:  # type: ignore[no-untyped-def]
    merged = Engine.load(
        "tiny-random-gemma3", adapters={"alpha": adapter_dirs["alpha"]}, merged=True, dtype="float32"
    )
    assert merged.merged and merged.adapters == ["alpha"]
    reqs = make_requests(adapter="alpha", max_new_tokens=16)
    assert [r.text for r in merged.generate(reqs)] == [r.text for r in multi.generate(reqs)]
    with pytest.raises(InvalidInputError) as err:
        merged.generate(make_requests())  # the base model is gone from a merged engine
    assert "merged" in str(err.value)
    with pytest.raises(ConflictError):
        merged.load_adapter("beta", adapter_dirs["beta"])


def test_merged_needs_exactly_one_adapter(adapter_dirs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError):
        Engine.load("tiny-random-gemma3", adapters=adapter_dirs, merged=True, dtype="float32")


def test_load_and_unload_at_run_time(adapter_dirs, engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    live = Engine.load("tiny-random-gemma3", dtype="float32")
    base = [r.text for r in live.generate(make_requests())]
    live.load_adapter("alpha", adapter_dirs["alpha"])
    alpha = [r.text for r in live.generate(make_requests(adapter="alpha"))]
    live.load_adapter("beta", adapter_dirs["beta"])
    assert live.adapters == ["alpha", "beta"]
    with pytest.raises(ConflictError):
        live.load_adapter("alpha", adapter_dirs["alpha"])
    live.unload_adapter("beta")
    assert live.adapters == ["alpha"]
    assert [r.text for r in live.generate(make_requests(adapter="alpha"))] == alpha
    with pytest.raises(NotFoundError):
        live.generate(make_requests(adapter="beta"))
    live.unload_adapter("alpha")
    assert live.adapters == []
    assert [r.text for r in live.generate(make_requests())] == base  # the base weights are untouched
    with pytest.raises(NotFoundError):
        live.unload_adapter("alpha")


def test_missing_adapter_folder_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    live = Engine.load("tiny-random-gemma3", dtype="float32")
    with pytest.raises(NotFoundError) as err:
        live.load_adapter("x", tmp_path / "nowhere")
    assert "adapter_config.json" in str(err.value)
    assert live.adapters == []


def test_adapters_run_in_the_base_dtype_with_a_foldable_head(adapter_dirs) -> None:  # type: ignore[no-untyped-def]
    """PEFT would keep LoRA weights float32 under a bf16 base and freeze the LM head, which makes
    torch.matmul broadcast the head over the batch at prefill; both made adapters 3-4x slower."""
    import torch

    for merged in (False, True):
        eng = Engine.load(
            "tiny-random-gemma3", adapters={"alpha": adapter_dirs["alpha"]}, merged=merged, dtype="bfloat16"
        )
        model = eng._adapters.model
        assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
        assert model.get_output_embeddings().weight.requires_grad
