"""Stop handling on decoded text: stop tokens, stop strings split across tokens, stream-safe deltas."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from groundtune.infer.stops import TextTracker, split_stops
from groundtune.models.tiny import tiny_tokenizer

_TOK = tiny_tokenizer()


def _feed(tracker: TextTracker, text: str) -> tuple[bool, list[str]]:
    """Push `text` token by token; returns (stopped, deltas including the final one)."""
    ids = tracker.tokenizer(text, add_special_tokens=False)["input_ids"]
    deltas = []
    stopped = False
    for token in ids:
        if tracker.push(token):
            stopped = True
            break
        deltas.append(tracker.delta())
    deltas.append(tracker.delta(final=True))
    return stopped, deltas


def test_special_token_stops_become_ids_and_others_stay_text() -> None:
    tok = tiny_tokenizer()
    ids, texts = split_stops(tok, ["<end_of_turn>", "\n\n", "Answer:", "\n\n"])
    assert ids == {tok.convert_tokens_to_ids("<end_of_turn>")}
    assert texts == ["\n\n", "Answer:"]


def test_stop_string_cuts_text_and_is_never_streamed() -> None:
    tok = tiny_tokenizer()
    tracker = TextTracker(tok, set(), ["STOP here"])
    stopped, deltas = _feed(tracker, "one two STOP three STOP here and more")
    assert stopped
    assert tracker.text == "one two STOP three "
    assert "".join(deltas) == tracker.text
    assert all("STOP here" not in d for d in deltas)


def test_stop_token_ends_without_text() -> None:
    tok = tiny_tokenizer()
    end = tok.convert_tokens_to_ids("<end_of_turn>")
    tracker = TextTracker(tok, {end}, [])
    ids = tok("abc", add_special_tokens=False)["input_ids"]
    assert not any(tracker.push(t) for t in ids)
    assert tracker.push(end)
    assert tracker.text == "abc"


def test_partial_stop_prefix_is_held_back_then_released() -> None:
    tok = tiny_tokenizer()
    tracker = TextTracker(tok, set(), ["XYZ"])
    stopped, deltas = _feed(tracker, "ab XY done")
    assert not stopped
    assert "".join(deltas) == "ab XY done" == tracker.text


def test_multibyte_characters_are_not_streamed_half_decoded() -> None:
    tok = tiny_tokenizer()
    tracker = TextTracker(tok, set(), [])
    stopped, deltas = _feed(tracker, "café ☕ 日本")
    assert not stopped
    assert all("\ufffd" not in d for d in deltas)
    assert "".join(deltas) == "café ☕ 日本"


@settings(max_examples=80, deadline=None)
@given(
    st.text(alphabet="ab \nxé☕", max_size=40),
    st.lists(st.text(alphabet="ab \nxé", min_size=1, max_size=4), max_size=3),
)
def test_stream_equals_text_cut_before_the_first_completed_stop(text: str, stops: list[str]) -> None:
    tracker = TextTracker(_TOK, set(), stops)
    stopped, deltas = _feed(tracker, text)
    out = tracker.text
    assert "".join(deltas) == out
    assert text.startswith(out)
    assert not any(s in out for s in stops)  # no stop survives in the text
    if stopped:
        assert any(text[len(out) :].startswith(s) for s in stops)  # cut right before a stop
    else:
        assert out == text and not any(s in text for s in stops)
