"""Constrained decoding at the token level: keeps a row's reply inside its grounding grammar
(`grounding.constraint`: verbatim quotes, only prompt documents named) by choosing at every step the
best token whose text the grammar allows.

It never masks the whole vocabulary (262k tokens for Gemma). Greedy "mask, then argmax" is "the
highest-scoring allowed token", so the row's own pick is checked first (in free answer text it is
nearly always allowed: one short string check, no tensor work), then the 32 likeliest tokens in
descending order, then the tokens whose text begins one of the grammar's prospects (the rest of a
label, the document's text after the quote so far), then the 1024 likeliest, then all. Sampling
keeps the row's own draw when allowed, else draws among the allowed tokens found that way,
renormalised (temperature and top-p applied to them). Token texts are decoded once per tokenizer,
lazily. It knows nothing about the markers of the format: the grammar does.
"""

from __future__ import annotations

from typing import Any

import torch

from groundtune.grounding.constraint import ReplyGrammar, State
from groundtune.infer.request import GenerationConfig

ROUNDS = (32, 1024)
"""How many of the likeliest tokens are checked, in turn, before and after the prospects."""


class TokenTexts:
    """Each token's text as decoding appends it (special tokens add none), decoded on first use; the
    index from text to tokens is built once, when a prospect lookup first needs it (~2 s for Gemma)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._texts: dict[int, str] = {}
        self._index: dict[str, list[int]] | None = None
        self.longest = 0

    def __getitem__(self, token: int) -> str:
        text = self._texts.get(token)
        if text is None:
            text = self.tokenizer.decode(
                [token], skip_special_tokens=True, clean_up_tokenization_spaces=False
            )
            self._texts[token] = text
        return text

    def index(self) -> dict[str, list[int]]:
        """Tokens by their text (every token of the vocabulary)."""
        if self._index is None:
            size = len(self.tokenizer)
            texts = self.tokenizer.batch_decode(
                [[i] for i in range(size)], skip_special_tokens=True, clean_up_tokenization_spaces=False
            )
            index: dict[str, list[int]] = {}
            for i, text in enumerate(texts):
                self._texts[i] = text
                if text:
                    index.setdefault(text, []).append(i)
            self.longest = max(map(len, index), default=0)
            self._index = index
        return self._index


class RowConstraint:
    """One row's grammar and where its reply stands in it. `broken` turns true if no allowed token
    could be found or the decoded text left the grammar (a tokenizer whose pieces do not concatenate);
    the row then decodes unconstrained, and its result says so."""

    def __init__(self, grammar: ReplyGrammar, texts: TokenTexts, stop_ids: set[int]) -> None:
        self.grammar = grammar
        self.texts = texts
        self.stop_ids = stop_ids
        self.state: State | None = grammar.start
        self.broken = False
        self._fed = ""

    def allows(self, token: int) -> bool:
        """Whether `token` may come next."""
        if token in self.stop_ids:
            return self.grammar.can_end(self.state)
        text = self.texts[token]
        if not text:
            return self.grammar.is_free(self.state)
        return self.grammar.feed(self.state, text) is not None

    def advance(self, text: str) -> None:
        """Move the state to the row's decoded `text` (a character still being decoded waits)."""
        stable = text.rstrip("\ufffd")
        if stable.startswith(self._fed):
            self.state = self.grammar.feed(self.state, stable[len(self._fed) :])
        else:  # decoding rewrote earlier text (a multi-byte character completed)
            self.state = self.grammar.feed(self.grammar.start, stable)
        self._fed = stable
        if self.state is None:
            self.broken = True

    def pick(self, logits: torch.Tensor, config: GenerationConfig, generator: torch.Generator | None) -> int:
        """The allowed token to emit, from one row's float32 logits (the grammar forbade the row's
        own pick). Falls back to the unconstrained pick, marking the row broken, if none is found."""
        if self.grammar.is_done(self.state):  # the reply is complete: its likeliest stop token
            stops = torch.tensor(sorted(self.stop_ids), dtype=torch.long)
            return int(stops[int(logits[stops].argmax())])
        greedy = config.greedy
        seen: set[int] = set()
        for rounds, k in enumerate(ROUNDS):
            allowed = self._top(logits, k, greedy, seen)
            if allowed:
                return self._choose(logits, allowed, config, generator)
            if rounds == 0:
                allowed = self._prospects(seen)
                if allowed:
                    return self._choose(logits, allowed, config, generator)
        allowed = self._top(logits, logits.shape[-1], greedy, seen)
        if allowed:
            return self._choose(logits, allowed, config, generator)
        self.broken = True
        return int(logits.argmax().item())

    def _top(self, logits: torch.Tensor, k: int, greedy: bool, seen: set[int]) -> list[int]:
        """Allowed tokens among the k likeliest (for greedy, just the first one met)."""
        ids = torch.topk(logits, min(k, logits.shape[-1])).indices.tolist()
        allowed = []
        for token in ids:
            if token in seen:
                continue
            seen.add(token)
            if self.allows(token):
                allowed.append(token)
                if greedy:
                    break
        return allowed

    def _prospects(self, seen: set[int]) -> list[int]:
        """Allowed tokens whose text begins one of the grammar's prospects."""
        index = self.texts.index()
        found: set[int] = set()
        for prospect in self.grammar.prospects(self.state, self.texts.longest):
            for end in range(1, len(prospect) + 1):
                found.update(index.get(prospect[:end], ()))
        return [t for t in found - seen if self.allows(t)]

    @staticmethod
    def _choose(
        logits: torch.Tensor, allowed: list[int], config: GenerationConfig, generator: torch.Generator | None
    ) -> int:
        ids = torch.tensor(allowed, dtype=torch.long)
        scores = logits[ids]
        if config.greedy:
            return int(ids[int(scores.argmax())])
        probs = torch.softmax(scores / config.temperature, dim=-1)
        if config.top_p < 1.0:
            ordered, order = torch.sort(probs, descending=True)
            ordered = ordered.masked_fill(torch.cumsum(ordered, -1) - ordered >= config.top_p, 0.0)
            return int(ids[order[torch.multinomial(ordered, 1, generator=generator)]])
        return int(ids[torch.multinomial(probs, 1, generator=generator)])
