"""Scale-out with vLLM: the command line and the chat template that reproduces groundtune's layout.

Running vLLM needs a GPU; here we check what groundtune hands it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from groundtune.models import load_lm
from groundtune.models.layout import GEMMA_TURNS, chat_template
from groundtune.serve.vllm import launch_vllm, vllm_command


def test_chat_template_renders_exactly_the_layout() -> None:
    lm = load_lm("tiny-random-gemma3")
    lm.tokenizer.chat_template = chat_template(GEMMA_TURNS)
    rendered = lm.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Question?"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered == "<bos>" + GEMMA_TURNS.prompt("Question?")
    # a conversation (few-shot demonstrations as earlier exchanges) renders as the engine lays it out
    conversation = [
        {"role": "user", "content": "Demo?"},
        {"role": "assistant", "content": "Reply."},
        {"role": "user", "content": "Question?"},
    ]
    rendered = lm.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    assert rendered == "<bos>" + GEMMA_TURNS.prompt("Question?", [("Demo?", "Reply.")])


def test_vllm_command_enables_lora_with_every_adapter(tmp_path: Path) -> None:
    cmd = vllm_command(
        "/models/g",
        {"a": tmp_path / "a", "b": tmp_path / "b"},
        port=8100,
        chat_template=tmp_path / "t.jinja",
        served_name="gemma-3-270m",
    )
    assert cmd[cmd.index("--model") + 1] == "/models/g"
    assert "--enable-lora" in cmd and f"a={tmp_path / 'a'}" in cmd and f"b={tmp_path / 'b'}" in cmd
    assert cmd[cmd.index("--chat-template") + 1] == str(tmp_path / "t.jinja")
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"


@pytest.mark.skipif(
    importlib.util.find_spec("vllm") is not None, reason="vLLM is installed: a GPU run covers it"
)
def test_launch_without_vllm_names_the_fix() -> None:
    from groundtune.core.errors import UnavailableError

    with pytest.raises(UnavailableError) as err:
        launch_vllm(["true"], "http://127.0.0.1:1")
    assert "groundtune[vllm]" in str(err.value)
