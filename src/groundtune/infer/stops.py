"""Turns one sequence's generated token ids into text, applying stop tokens and stop strings, and
hands out stream-safe text deltas.

Stop strings that are single special tokens of the vocabulary (`<end_of_turn>`) are matched as token
ids, because decoding drops special tokens; every other stop string is matched on the decoded text.
A delta never contains a possible prefix of a stop string nor a half-decoded UTF-8 character, so
the concatenated stream equals the final text. It knows nothing about models or batches.
"""

from __future__ import annotations

from typing import Any


def split_stops(tokenizer: Any, stops: list[str]) -> tuple[set[int], list[str]]:
    """(token ids that stop, strings that stop on decoded text) for `stops`."""
    special = set(getattr(tokenizer, "all_special_tokens", []) or [])
    special |= {str(t) for t in getattr(tokenizer, "added_tokens_decoder", {}).values() if t.special}
    ids: set[int] = set()
    texts: list[str] = []
    for stop in stops:
        if stop in special:
            ids.add(int(tokenizer.convert_tokens_to_ids(stop)))
        elif stop not in texts:
            texts.append(stop)
    return ids, texts


class TextTracker:
    """Accumulates one sequence's tokens; `push` reports whether generation must stop."""

    def __init__(self, tokenizer: Any, stop_ids: set[int], stop_texts: list[str]) -> None:
        self.tokenizer = tokenizer
        self.stop_ids = stop_ids
        self.stop_texts = stop_texts
        self.ids: list[int] = []
        self.text = ""
        self.emitted = 0
        self.stopped = False
        self._longest_stop = max((len(s) for s in stop_texts), default=0)

    def push(self, token_id: int) -> bool:
        """Add one generated token; True when the sequence has hit a stop (token or string)."""
        if token_id in self.stop_ids:
            self.stopped = True
            return True
        self.ids.append(token_id)
        previous = len(self.text)
        self.text = self.tokenizer.decode(
            self.ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        if self.stop_texts:
            # A stop can only complete inside the newly decoded tail (plus its own length before it).
            start = max(0, previous - self._longest_stop)
            hits = [i for i in (self.text.find(s, start) for s in self.stop_texts) if i >= 0]
            if hits:
                self.text = self.text[: min(hits)]
                self.stopped = True
                return True
        return False

    def delta(self, final: bool = False) -> str:
        """New text since the last call; while not `final`, holds back what a stop might still claim."""
        safe = len(self.text)
        if not final:
            while safe > 0 and self.text[safe - 1] == "\ufffd":  # an incomplete multi-byte character
                safe -= 1
            hold = 0
            for stop in self.stop_texts:
                for k in range(min(len(stop) - 1, safe), hold, -1):
                    if self.text[safe - k : safe] == stop[:k]:
                        hold = k
                        break
            safe -= hold
        if safe <= self.emitted:
            return ""
        out = self.text[self.emitted : safe]
        self.emitted = safe
        return out
