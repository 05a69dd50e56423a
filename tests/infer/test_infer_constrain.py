"""Constrained decoding on the tiny random model, which left alone writes no structure at all: with
the grounding constraint every reply follows the format, every quote is a verbatim span of a listed
document and every number names a prompt document, batched, sampled, streamed and through adapters
alike; switched off, decoding is exactly what it was."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
import torch

from groundtune.core.schemas import ContextDocument
from groundtune.grounding import get_format, verify_quotes
from groundtune.grounding.constraint import ReplyGrammar
from groundtune.infer import Engine, GenerationConfig, GenerationRequest
from groundtune.infer.constrain import RowConstraint, TokenTexts

DOCS = [
    ContextDocument(
        title="Frame", text="The frame has a 24 month warranty.\nBatteries are covered for 12 months."
    ),
    ContextDocument(title="Tyres", text='Tyre pressure should be "3 bar" for road use.'),
    ContextDocument(title="Shop", text="The shop opens at 9 and closes at 18 every day except Sunday."),
]
QUESTIONS = ["How long is the frame warranty?", "What pressure?", "When does the shop open?", "Why?"]
FMT = get_format("cited")


def _requests(**cfg: object) -> list[GenerationRequest]:
    config = GenerationConfig(**{"max_new_tokens": 48, **cfg})  # type: ignore[arg-type]
    return [
        GenerationRequest(prompt=FMT.render_prompt(q, DOCS), config=config, constraint=FMT.constraint(DOCS))
        for q in QUESTIONS
    ]


def _check(text: str) -> None:
    parsed = FMT.parse(text, DOCS)
    # the token limit may cut a reply short (missing answer, a half-written label), nothing else
    assert set(parsed.violations) <= {"missing_answer", "unexpected_text"}, (text, parsed.violations)
    assert set(parsed.relevant) | set(parsed.citations) <= {1, 2, 3}
    assert all(verify_quotes(parsed, DOCS)), text
    assert parsed.relevant == [] or parsed.quotes, text
    assert {q.doc for q in parsed.quotes} <= set(parsed.relevant)
    answer = text.partition("\nAnswer:")[2]
    assert "\n" not in answer.rstrip("\n"), text  # the answer line ends the reply


def test_a_random_model_is_forced_into_verbatim_quotes(engine: Engine) -> None:
    free = engine.generate(_requests(constrained=False))
    assert not any(FMT.parse(r.text, DOCS).format_ok for r in free)  # garbage unconstrained
    assert not any(r.constrained for r in free)

    results = engine.generate(_requests())
    assert all(r.constrained for r in results)
    for result in results:
        _check(result.text)
    assert any(FMT.parse(r.text, DOCS).quotes for r in results)
    # A reply whose answer line ended stopped there, before the token limit.
    ended = [r for r in results if "\nAnswer:" in r.text and r.text.rstrip(" ").endswith("\n")]
    assert all(r.finish_reason == "stop" for r in ended)
    # entropies stay those of the model's own distribution, one per token
    assert all(len(r.token_entropy) == r.completion_tokens for r in results)

    # one at a time gives the same greedy text as together (the batch also shares its prompt opening)
    assert [engine.generate([r])[0].text for r in _requests()] == [r.text for r in results]


def test_sampled_and_streamed_replies_keep_to_the_grammar(engine: Engine) -> None:
    sampled = engine.generate(_requests(temperature=1.2, top_p=0.95, seed=3))
    for result in sampled:
        assert result.constrained
        _check(result.text)
    again = engine.generate(_requests(temperature=1.2, top_p=0.95, seed=3))
    assert [r.text for r in again] == [r.text for r in sampled]  # seeded: same text

    request = _requests()[0]
    stream = engine.stream(request)
    assert "".join(stream) == engine.generate([request])[0].text
    assert stream.result is not None and stream.result.constrained


def test_adapters_and_mixed_batches_are_constrained(adapter_dirs: dict[str, Path]) -> None:
    engine = Engine.load("tiny-random-gemma3", adapters=adapter_dirs, dtype="float32", batch_size=8)
    requests = [
        r.model_copy(update={"adapter": a})
        for r, a in zip(_requests(), ["alpha", None, "beta", "alpha"], strict=True)
    ]
    results = engine.generate(requests)
    for result in results:
        assert result.constrained
        _check(result.text)
    assert [engine.generate([r])[0].text for r in requests] == [r.text for r in results]


def test_switched_off_decodes_exactly_as_without_a_constraint(engine: Engine) -> None:
    off = engine.generate(_requests(constrained=False, max_new_tokens=16))
    bare = engine.generate([r.model_copy(update={"constraint": None}) for r in _requests(max_new_tokens=16)])
    assert [r.text for r in off] == [r.text for r in bare]


class _Tokens:
    """A toy tokenizer: token i is TEXTS[i]; token 0 ends the reply."""

    TEXTS: ClassVar[list[str]] = [
        "",
        "Relevant",
        ": ",
        "[1]",
        "[2]",
        "\n",
        "none",
        "Quote",
        " [1]: ",
        '"',
        "frame",
        "x",
        "Answer: ",
    ]

    def __len__(self) -> int:
        return len(self.TEXTS)

    def decode(self, ids: list[int], **_: object) -> str:
        return "".join(self.TEXTS[i] for i in ids)

    def batch_decode(self, batch: list[list[int]], **kw: object) -> list[str]:
        return [self.decode(ids) for ids in batch]


def _rule(text: str = "") -> RowConstraint:
    rule = RowConstraint(ReplyGrammar(["The frame is red."]), TokenTexts(_Tokens()), stop_ids={0})
    rule.advance(text)
    return rule


def test_greedy_picks_the_best_allowed_token_and_sampling_only_allowed_ones() -> None:
    rule = _rule("Relevant: [1]\n")
    logits = torch.tensor([9.0, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 8, 1])  # the model wants to stop, or "x"
    assert not rule.allows(0) and not rule.allows(11) and not rule.allows(12)  # a quote must come first
    assert rule.pick(logits, GenerationConfig(), None) == 7  # "Quote", the best allowed
    gen = torch.Generator().manual_seed(0)
    sampled = {rule.pick(logits, GenerationConfig(temperature=1.0), gen) for _ in range(20)}
    assert sampled == {7}

    inside = _rule('Relevant: [1]\nQuote [1]: "')
    assert inside.allows(10) and not inside.allows(11) and not inside.allows(9)  # no blank quote
    inside.advance('Relevant: [1]\nQuote [1]: "frame')
    assert inside.allows(9) and inside.pick(logits, GenerationConfig(), None) == 9  # close, not "x"
    assert not inside.broken


def test_the_stop_token_is_allowed_only_where_a_reply_may_end() -> None:
    assert not _rule('Relevant: [1]\nQuote [1]: "frame"\nAnswer: ').allows(0)
    done = _rule('Relevant: [1]\nQuote [1]: "frame"\nAnswer: red [1]')
    assert done.allows(0) and done.allows(11)


def test_prospects_find_allowed_tokens_outside_the_top_k() -> None:
    """With the only legal continuation ranked last, the prospects still find it (no full scan)."""
    rule = _rule("")
    logits = torch.arange(len(_Tokens.TEXTS), dtype=torch.float32)
    logits[1] = -100.0  # "Relevant", the only legal first token, is the model's least likely
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("groundtune.infer.constrain.ROUNDS", (2, 4))
        assert rule.pick(logits, GenerationConfig(), None) == 1


def test_the_answer_line_ending_stops_the_reply() -> None:
    """An adapter that would repeat `Relevant: none` after its answer (never writing its end-of-turn
    token) is stopped once the answer line ends: only the stop token is allowed, and picked."""
    rule = _rule("Relevant: none\nAnswer: x\n")
    assert rule.allows(0) and not any(rule.allows(t) for t in range(1, len(_Tokens.TEXTS)))
    logits = torch.tensor([-5.0, 9, 1, 1, 1, 8, 1, 1, 1, 1, 1, 1, 1])  # it wants "Relevant" again
    assert rule.pick(logits, GenerationConfig(), None) == 0 and not rule.broken
