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


def test_each_generated_token_reports_its_entropy_and_text_end(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    """The entropies are those of the model's own next-token distributions (checked against a plain
    forward pass over prompt + generated tokens), and token ends walk through the text."""
    req = make_requests(max_new_tokens=10)[2]
    (res,) = engine.generate([req])
    assert len(res.token_entropy) == len(res.token_ends) == res.completion_tokens
    assert res.token_ends == sorted(res.token_ends) and res.token_ends[-1] == len(res.text)
    prompt = engine.tokenizer(engine.layout.prompt(req.prompt))["input_ids"]
    generated = engine.tokenizer(res.text, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt + generated[: res.completion_tokens]])
    with torch.no_grad():
        logits = engine.lm.model(input_ids=ids).logits[0, len(prompt) - 1 : -1].float()
    logp = torch.log_softmax(logits, dim=-1)
    expected = (-(logp.exp() * logp).sum(-1)).tolist()
    n = min(len(expected), len(res.token_entropy))
    assert n >= 3 and res.token_entropy[:n] == pytest.approx(expected[:n], rel=1e-3, abs=1e-4)


def test_entropy_of_a_masked_vocabulary_is_finite() -> None:
    """A token masked to -inf (probability 0) adds nothing, instead of 0 * -inf = nan."""
    from groundtune.infer.decode import _entropy

    logits = torch.tensor([[0.0, 0.0, float("-inf")], [1.0, 2.0, 3.0]])
    reference = -(torch.softmax(logits[1], -1) * torch.log_softmax(logits[1], -1)).sum()
    assert _entropy(logits).tolist() == pytest.approx([torch.log(torch.tensor(2.0)).item(), reference.item()])
