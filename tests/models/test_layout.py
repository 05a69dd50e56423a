"""The prompt layout: one user turn, or a conversation whose earlier exchanges come first."""

from __future__ import annotations

from groundtune.models.layout import GEMMA_TURNS


def test_history_is_laid_out_turn_by_turn_before_the_prompt() -> None:
    text = GEMMA_TURNS.prompt("Q?", [("Demo 1?", "Reply 1."), ("Demo 2?", "Reply 2.")])
    assert text == (
        "<start_of_turn>user\nDemo 1?<end_of_turn>\n<start_of_turn>model\nReply 1.<end_of_turn>\n"
        "<start_of_turn>user\nDemo 2?<end_of_turn>\n<start_of_turn>model\nReply 2.<end_of_turn>\n"
        "<start_of_turn>user\nQ?<end_of_turn>\n<start_of_turn>model\n"
    )
    # an exchange is exactly what training lays out for one example: prompt, then completion
    assert text.startswith(GEMMA_TURNS.prompt("Demo 1?") + GEMMA_TURNS.completion("Reply 1."))
    assert GEMMA_TURNS.prompt("Q?", []) == GEMMA_TURNS.prompt("Q?")
