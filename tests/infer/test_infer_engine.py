"""The in-process engine on the tiny Gemma: batching, stops, limits, sampling, streaming, errors."""

from __future__ import annotations

import pytest
import torch

from groundtune.core.errors import InvalidInputError, NotFoundError
from groundtune.infer import GenerationConfig, GenerationRequest


def test_batched_greedy_equals_one_at_a_time(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    reqs = make_requests(max_new_tokens=16)
    batched = engine.generate(reqs)
    single = [engine.generate([r])[0] for r in reqs]
    assert [r.text for r in batched] == [r.text for r in single]
    assert [r.completion_tokens for r in batched] == [r.completion_tokens for r in single]
    assert len({r.text for r in batched}) > 1  # different prompts, different continuations


def test_small_batches_and_token_budget_give_the_same_results(make_requests) -> None:  # type: ignore[no-untyped-def]
    from groundtune.infer import Engine

    big = Engine.load("tiny-random-gemma3", dtype="float32", batch_size=8)
    small = Engine.load("tiny-random-gemma3", dtype="float32", batch_size=3, max_batch_tokens=40)
    reqs = make_requests(max_new_tokens=10) * 2
    assert [r.text for r in small.generate(reqs)] == [r.text for r in big.generate(reqs)]


def test_a_finished_rows_place_goes_to_the_next_request_at_once(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    """Two rows at a time: one long answer (12 tokens) and four short ones (2 tokens) take the long
    answer's 11 decode steps in all, the short ones taking turns beside it; every result equals the
    request generated alone, and no step holds more than two rows."""
    from groundtune.infer import Engine

    two = Engine(engine.lm, batch_size=2)
    prompts = ["Summarise the documents about tyre pressure and brakes in two sentences, citing them."]
    long = make_requests(prompts, max_new_tokens=12, stop=["never"])
    short = make_requests(["Hello", "Why?", "Hi", "What?"], max_new_tokens=2, stop=["never"])
    reqs = short[:2] + long + short[2:]
    rows: list[tuple[int, int]] = []
    forward = two.lm.model.forward

    def record(*args, **kwargs):  # type: ignore[no-untyped-def]
        rows.append(tuple(kwargs["input_ids"].shape))
        return forward(*args, **kwargs)

    two.lm.model.forward = record
    try:
        together = two.generate(reqs)
    finally:
        two.lm.model.forward = forward
    steps = [shape for shape in rows if shape[1] == 1]
    assert [r.completion_tokens for r in together] == [2, 2, 12, 2, 2]
    assert len(steps) == 11 and max(n for n, _ in rows) == 2
    alone = [two.generate([r])[0] for r in reqs]
    assert [r.text for r in together] == [r.text for r in alone]
    for a, b in zip(together, alone, strict=True):
        assert a.token_entropy == pytest.approx(b.token_entropy, rel=1e-4, abs=1e-5)
    two.refill = False  # fixed batches: the long answer's batch waits for it, then the rest
    assert [r.text for r in two.generate(reqs)] == [r.text for r in alone]
    two.refill = True
    # A stream longer than any of its requests: its cache outgrows the buffer it started with.
    staggered = long[:1] + make_requests(
        ["Hello", "Why?", "Hi", "What?"] * 6, max_new_tokens=6, stop=["never"]
    )
    staggered[0] = staggered[0].model_copy(
        update={"config": staggered[1].config.model_copy(update={"max_new_tokens": 3})}
    )
    rows.clear()
    two.lm.model.forward = record
    try:
        together = two.generate(staggered)
    finally:
        two.lm.model.forward = forward
    capacity = max(two.count_tokens(r.prompt) + r.config.max_new_tokens for r in staggered)
    assert sum(n == 1 for _, n in rows) > capacity  # decode steps of the stream
    assert [r.text for r in together] == [two.generate([r])[0].text for r in staggered]


def test_the_row_and_token_budgets_hold_and_fixed_batches_spread_rows_evenly(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    """A stream takes rows while the widest prompt times the rows fits the token budget (a lone row
    always goes); without refilling, 17 requests at a batch size of 8 run as 6, 6, 5, not 8, 8, 1."""
    from groundtune.infer.decode import Pending

    rows = engine._rows(make_requests(max_new_tokens=2) * 4 + make_requests(max_new_tokens=2)[:1])
    fixed = Pending(rows, 8, 1 << 20, refill=False)
    sizes = []
    while fixed.rows:
        batch = fixed.take([])
        assert fixed.take(batch) == []  # nothing joins a running batch
        sizes.append(len(batch))
    assert sizes == [6, 6, 5]
    width = len(engine._encode("Why?"))
    capped = Pending(engine._rows(make_requests(["Why?"]) * 17), 8, 4 * width)
    first = capped.take([])
    assert len(first) == 4 and capped.take(first) == []
    assert len(capped.take(first[:3])) == 1  # a row left: one joins
    wide = Pending(engine._rows(make_requests(["Why?"])), 8, 1)
    assert len(wide.take([])) == 1  # too wide for the budget, but alone it goes


def test_results_come_back_in_request_order_with_counts(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    reqs = make_requests(max_new_tokens=7)
    finished: list[int] = []
    results = engine.generate(reqs, progress=finished.append)
    assert sum(finished) == len(reqs)
    for req, res in zip(reqs, results, strict=True):
        assert res.prompt_tokens == engine.count_tokens(req.prompt)
        assert res.prompt_tokens == len(engine.tokenizer(engine.layout.prompt(req.prompt))["input_ids"])
        assert res.latency_s > 0


def test_max_new_tokens_ends_with_length(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    short, long = engine.generate(
        make_requests(["Hello"], max_new_tokens=3) + make_requests(["Hello"], max_new_tokens=9)
    )
    assert (short.finish_reason, short.completion_tokens) == ("length", 3)
    assert (long.finish_reason, long.completion_tokens) == ("length", 9)
    assert long.text.startswith(short.text)


def test_stop_string_truncates_and_stops_early(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    full = engine.generate(make_requests(max_new_tokens=24))
    stops = [r.text[len(r.text) // 2 : len(r.text) // 2 + 2] for r in full]
    reqs = [
        GenerationRequest(prompt=req.prompt, config=GenerationConfig(max_new_tokens=24, stop=[stop]))
        for req, stop in zip(make_requests(), stops, strict=True)
    ]
    for base, stop, res in zip(full, stops, engine.generate(reqs), strict=True):
        assert stop.strip(), "the tiny model's output should be long enough to pick a stop from"
        assert res.finish_reason == "stop"
        assert res.text == base.text[: base.text.index(stop)]
        assert res.completion_tokens < base.completion_tokens


def test_layout_stop_token_ends_generation(engine) -> None:  # type: ignore[no-untyped-def]
    """The layout's `<end_of_turn>` stops a row: force it by making it the top logit."""
    end = engine.tokenizer.convert_tokens_to_ids("<end_of_turn>")

    def favour_end(module, inputs, output):  # type: ignore[no-untyped-def]
        output[..., end] = output.max() + 100.0
        return output

    handle = engine.lm.model.lm_head.register_forward_hook(favour_end)
    try:
        res = engine.generate([GenerationRequest(prompt="hi", config=GenerationConfig(max_new_tokens=5))])[0]
    finally:
        handle.remove()
    assert res.finish_reason == "stop"
    assert res.text == ""
    assert res.completion_tokens == 1


def test_sampling_is_reproducible_with_a_seed(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    a = engine.generate(make_requests(temperature=1.0, top_p=0.95, seed=7, max_new_tokens=16))
    b = engine.generate(make_requests(temperature=1.0, top_p=0.95, seed=7, max_new_tokens=16))
    c = engine.generate(make_requests(temperature=1.0, top_p=0.95, seed=8, max_new_tokens=16))
    greedy = engine.generate(make_requests(max_new_tokens=16))
    assert [r.text for r in a] == [r.text for r in b]
    assert [r.text for r in a] != [r.text for r in c]
    assert [r.text for r in a] != [r.text for r in greedy]
    alone = engine.generate(
        make_requests([make_requests()[1].prompt], temperature=1.0, top_p=0.95, seed=7, max_new_tokens=16)
    )
    assert alone[0].text == a[1].text  # a row's sample does not depend on its batch


def test_mixed_greedy_and_sampled_rows_in_one_batch(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    greedy = make_requests(max_new_tokens=10)
    sampled = make_requests(temperature=0.8, seed=3, max_new_tokens=10)
    mixed = engine.generate([greedy[0], sampled[1], greedy[2], sampled[3]])
    assert mixed[0].text == engine.generate([greedy[0]])[0].text
    assert mixed[1].text == engine.generate([sampled[1]])[0].text


def test_stream_concatenation_equals_generated_text(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    for req in make_requests(max_new_tokens=20) + make_requests(max_new_tokens=20, stop=["w"]):
        expected = engine.generate([req])[0]
        stream = engine.stream(req)
        deltas = []
        for delta in stream:
            assert not torch.is_inference_mode_enabled()  # the caller's torch state is untouched
            deltas.append(delta)
        assert "".join(deltas) == expected.text
        assert stream.result is not None
        assert stream.result.text == expected.text
        assert stream.result.finish_reason == expected.finish_reason
        assert len(deltas) > 1 or expected.completion_tokens <= 1


def test_bad_requests_fail_before_any_work_with_a_hint(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFoundError) as err:
        engine.generate([GenerationRequest(prompt="hi", adapter="nope")])
    assert err.value.hint
    with pytest.raises(InvalidInputError):
        engine.generate([GenerationRequest(prompt="hi " * 5000, config=GenerationConfig(max_new_tokens=8))])
    with pytest.raises(ValueError):
        GenerationConfig(stop=[""])
    with pytest.raises(ValueError):
        GenerationConfig(temperature=-1)


def test_empty_request_list(engine) -> None:  # type: ignore[no-untyped-def]
    assert engine.generate([]) == []


@pytest.mark.parametrize("window", [512, 6])
def test_each_generated_token_is_the_plain_forward_pass_argmax_with_its_entropy(
    window, make_requests
) -> None:  # type: ignore[no-untyped-def]
    """Batched decoding over the KV cache (left padding, finished rows leaving, a sliding-window layer
    whose window the prompts outgrow) equals a plain forward pass over prompt + generated tokens:
    each greedy token is that pass's argmax and reports its entropy; token ends walk through the text."""
    from groundtune.infer import Engine
    from groundtune.models.registry import LoadedLM, layout_for_tokenizer
    from groundtune.models.tiny import tiny_gemma

    model, tok = tiny_gemma(sliding_window=window)
    engine = Engine(LoadedLM("tiny", model, tok, layout_for_tokenizer(tok), None))
    reqs = make_requests(max_new_tokens=10)
    for req, res in zip(reqs, engine.generate(reqs), strict=True):
        assert len(res.token_entropy) == len(res.token_ends) == res.completion_tokens
        assert res.token_ends == sorted(res.token_ends) and res.token_ends[-1] == len(res.text)
        ids = engine.tokenizer(engine.layout.prompt(req.prompt))["input_ids"]
        start, entropies = len(ids), []
        for _ in range(res.completion_tokens):  # greedy decoding the slow way: no cache, no batch
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
            logp = torch.log_softmax(logits, dim=-1)
            entropies.append(-(logp.exp() * logp).sum().item())
            ids.append(int(logits.argmax()))
        assert engine.tokenizer.decode(ids[start:], skip_special_tokens=True).startswith(res.text)
        assert res.token_entropy == pytest.approx(entropies, rel=1e-3, abs=1e-4)


def test_entropy_of_a_masked_vocabulary_is_finite() -> None:
    """A token masked to -inf (probability 0) adds nothing, instead of 0 * -inf = nan."""
    from groundtune.infer.decode import _entropy

    logits = torch.tensor([[0.0, 0.0, float("-inf")], [1.0, 2.0, 3.0]])
    reference = -(torch.softmax(logits[1], -1) * torch.log_softmax(logits[1], -1)).sum()
    assert _entropy(logits).tolist() == pytest.approx([torch.log(torch.tensor(2.0)).item(), reference.item()])


@pytest.mark.parametrize("window", [512, 6])
def test_a_shared_prompt_prefix_is_computed_once_with_the_same_results(window: int, adapter_dirs) -> None:  # type: ignore[no-untyped-def]
    """Prompts that open alike (an instruction, demonstrations) share one prefill of that opening;
    every row then generates exactly what it generates alone, with or without an adapter, also when
    the prefix is longer than a sliding-window layer's window."""
    from groundtune.infer import Engine
    from groundtune.models.registry import LoadedLM, layout_for_tokenizer
    from groundtune.models.tiny import tiny_gemma

    model, tok = tiny_gemma(sliding_window=window)
    engine = Engine(LoadedLM("tiny", model, tok, layout_for_tokenizer(tok), None))
    engine.load_adapter("alpha", adapter_dirs["alpha"])
    opening = "Answer from the documents and cite them. Document 1: the frame warranty lasts five years. "
    questions = ["Why?", "What is the warranty period of the frame?", "Summarise the brakes.", "Hello"]
    widths: list[int] = []
    forward = engine.lm.model.forward

    def record(*args, **kwargs):  # type: ignore[no-untyped-def]
        widths.append(kwargs["input_ids"].shape)
        return forward(*args, **kwargs)

    for adapter in (None, "alpha"):
        config = GenerationConfig(max_new_tokens=10)
        reqs = [GenerationRequest(prompt=opening + q, adapter=adapter, config=config) for q in questions]
        alone = [engine.generate([r])[0] for r in reqs]
        engine.lm.model.forward = record
        widths.clear()
        together = engine.generate(reqs)
        engine.lm.model.forward = forward
        ids = [engine.tokenizer(engine.layout.prompt(r.prompt))["input_ids"] for r in reqs]
        shared = next(i for i, column in enumerate(zip(*ids, strict=False)) if len(set(column)) > 1)
        assert shared > min(window, 32)  # long enough to share; longer than the small window
        assert widths[0] == (1, shared)  # the opening, once
        assert widths[1] == (len(reqs), max(map(len, ids)) - shared)  # then the rest of every prompt
        assert [r.text for r in together] == [r.text for r in alone]
        for a, b in zip(together, alone, strict=True):
            assert a.token_entropy == pytest.approx(b.token_entropy, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("window", [512, 6])
def test_rows_join_wider_than_the_cache_and_dead_slots_are_dropped_with_the_same_results(
    window: int, monkeypatch: pytest.MonkeyPatch, make_requests
) -> None:  # type: ignore[no-untyped-def]
    """Shortest prompt first (as requests arriving one by one may come), two rows at a time: a wider
    prompt joining shifts the cache right, slots no live row uses are dropped from its left, and
    every row still generates exactly what it generates alone."""
    import groundtune.infer.decode as decode
    from groundtune.infer import Engine
    from groundtune.infer.kvcache import BufferedCache
    from groundtune.models.registry import LoadedLM, layout_for_tokenizer
    from groundtune.models.tiny import tiny_gemma

    model, tok = tiny_gemma(sliding_window=window)
    engine = Engine(LoadedLM("tiny", model, tok, layout_for_tokenizer(tok), None))
    reqs = make_requests(["Why?"], max_new_tokens=2, stop=["never"])
    reqs += make_requests(["Hello"], max_new_tokens=6, stop=["never"])
    reqs += make_requests(["What is the warranty period of the frame?"], max_new_tokens=9, stop=["never"])
    reqs += make_requests(
        ["Summarise the documents about tyre pressure and brakes, citing them."], max_new_tokens=4
    )
    alone = [engine.generate([r])[0] for r in reqs]
    shifts: list[int] = []
    shift = BufferedCache.shift
    monkeypatch.setattr(BufferedCache, "shift", lambda self, n: (shifts.append(n), shift(self, n))[1])
    monkeypatch.setattr(decode, "COMPACT_SLOTS", 1)
    pending = decode.Pending(engine._rows(reqs), 2, 1 << 20)
    pending.rows.reverse()
    results = {
        e.index: e.result for e in decode.run_stream(engine.lm.model, pending, engine._pad_id) if e.result
    }
    assert any(n > 0 for n in shifts) and any(n < 0 for n in shifts), shifts
    assert [results[i].text for i in range(len(reqs))] == [r.text for r in alone]
    for i, b in enumerate(alone):
        assert results[i].token_entropy == pytest.approx(b.token_entropy, rel=1e-4, abs=1e-5)
