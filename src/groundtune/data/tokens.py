"""Token counts with the LM's own tokenizer and prompt layout, counted exactly as the trainer does
(layout-wrapped prompt with special tokens, then the completion without them).

Loads only the tokenizer when it can (the model weights are not needed to count). Knows nothing
about what the prompt says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundtune.models.layout import PromptLayout, layout_for_tokenizer


@dataclass
class TokenCounter:
    """Counts tokens of rendered prompts and completions for one LM."""

    lm: str
    tokenizer: Any
    layout: PromptLayout

    def count(self, text: str) -> int:
        """Tokens of plain text (no special tokens)."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def example(self, prompt: str, completion: str) -> tuple[int, int]:
        """(prompt tokens, supervised completion tokens) of one rendered example."""
        p = self.tokenizer(self.layout.prompt(prompt), add_special_tokens=True)["input_ids"]
        c = self.tokenizer(self.layout.completion(completion), add_special_tokens=False)["input_ids"]
        return len(p), len(c)

    def trained_pieces(self, prompt: str, completion: str) -> list[tuple[str, bool]]:
        """The example as (token text, supervised?) pieces, for previews that show what is trained."""
        pieces: list[tuple[str, bool]] = []
        for text, trained, special in (
            (self.layout.prompt(prompt), False, True),
            (self.layout.completion(completion), True, False),
        ):
            enc = self.tokenizer(text, add_special_tokens=special, return_offsets_mapping=True)
            ids, offsets = enc["input_ids"], enc["offset_mapping"]
            for tid, (lo, hi) in zip(ids, offsets, strict=True):
                piece = text[lo:hi] if hi > lo else self.tokenizer.convert_ids_to_tokens(tid)
                pieces.append((piece, trained))
        return pieces


def load_counter(lm: str, home: str | Path | None = None) -> TokenCounter:
    """The token counter of a registry LM, a local model folder, or the tiny test model."""
    from groundtune.core.workspace import get_workspace
    from groundtune.models.registry import TINY_LM, load_lm

    if lm == TINY_LM:
        from groundtune.models.tiny import tiny_tokenizer

        tok = tiny_tokenizer()
        return TokenCounter(lm, tok, layout_for_tokenizer(tok))
    from transformers import AutoTokenizer

    # The registry caches converted models as <workspace>/models/<name>/ with tokenizer.json beside
    # the weights; a local folder may be given too. Either way only the tokenizer is read.
    for folder in (get_workspace(home).models / lm, Path(lm).expanduser()):
        if (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file():
            tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            return TokenCounter(lm, tok, layout_for_tokenizer(tok))
    loaded = load_lm(lm, home)  # not cached yet: the registry pulls/converts it once
    return TokenCounter(lm, loaded.tokenizer, loaded.layout)
