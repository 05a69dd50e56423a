"""How one user turn and one model turn are laid out as plain text for a causal LM.

The GGUF Gemma tokenizer ships no chat template, so the registry gives it this documented layout
(Gemma's own turn markers, single tokens in its vocabulary):

    <bos><start_of_turn>user\n{prompt}<end_of_turn>\n<start_of_turn>model\n{completion}<end_of_turn>\n

(`<bos>` is added by the tokenizer, not by the layout.) Models with a chat template get a layout
derived from it. The grounding format decides *what* the prompt says; this only wraps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_SENTINEL = "\x00GROUNDTUNE\x00"


@dataclass(frozen=True)
class PromptLayout:
    """Text around a user prompt and a model completion; `stop` ends generation."""

    name: str
    user_prefix: str
    user_suffix: str
    model_suffix: str
    stop: list[str] = field(default_factory=list)

    def prompt(self, user: str, history: Sequence[tuple[str, str]] = ()) -> str:
        """The text the model is conditioned on (ends where its completion starts), after the earlier
        (user, model) exchanges of `history` laid out turn by turn."""
        past = "".join(self.prompt(u) + self.completion(m) for u, m in history)
        return f"{past}{self.user_prefix}{user}{self.user_suffix}"

    def completion(self, target: str) -> str:
        """The text the model is trained to produce after `prompt()` (target plus end-of-turn)."""
        return f"{target}{self.model_suffix}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "user_prefix": self.user_prefix,
            "user_suffix": self.user_suffix,
            "model_suffix": self.model_suffix,
            "stop": list(self.stop),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptLayout:
        return cls(**data)


GEMMA_TURNS = PromptLayout(
    name="gemma-turns",
    user_prefix="<start_of_turn>user\n",
    user_suffix="<end_of_turn>\n<start_of_turn>model\n",
    model_suffix="<end_of_turn>\n",
    stop=["<end_of_turn>"],
)


def layout_for_tokenizer(tokenizer: Any) -> PromptLayout:
    """GEMMA_TURNS when the tokenizer knows Gemma's turn tokens and has no template; otherwise the
    layout read off the tokenizer's chat template by rendering a sentinel message."""
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        vocab = tokenizer.get_vocab()
        if "<start_of_turn>" in vocab and "<end_of_turn>" in vocab:
            return GEMMA_TURNS
        eos = tokenizer.eos_token or ""
        return PromptLayout("plain", "", "\n\n### Answer\n", eos, stop=[eos] if eos else [])
    user = tokenizer.apply_chat_template(
        [{"role": "user", "content": _SENTINEL}], tokenize=False, add_generation_prompt=True
    )
    full = tokenizer.apply_chat_template(
        [{"role": "user", "content": _SENTINEL}, {"role": "assistant", "content": _SENTINEL}],
        tokenize=False,
    )
    prefix, suffix = user.split(_SENTINEL, 1)
    bos = tokenizer.bos_token or ""
    if bos and prefix.startswith(bos):
        prefix = prefix[len(bos) :]  # the tokenizer adds it
    model_suffix = full.rsplit(_SENTINEL, 1)[1]
    stop = [s for s in (model_suffix.strip(), tokenizer.eos_token) if s]
    return PromptLayout("chat-template", prefix, suffix, model_suffix, stop=stop)


def chat_template(layout: PromptLayout) -> str:
    """A Jinja chat template that reproduces `layout` for one user turn (and past turns), for servers
    such as vLLM that apply templates themselves; groundtune's own engine uses the layout directly."""

    def lit(text: str) -> str:
        return "{{ " + repr(text) + " }}"

    return (
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'assistant' %}"
        + "{{ m['content'] }}"
        + lit(layout.model_suffix)
        + "{% else %}"
        + lit(layout.user_prefix)
        + "{{ m['content'] }}"
        + "{% if not loop.last %}"
        + lit(layout.user_suffix)
        + "{% endif %}{% endif %}{% endfor %}"
        + "{% if add_generation_prompt %}"
        + lit(layout.user_suffix)
        + "{% endif %}"
    )
