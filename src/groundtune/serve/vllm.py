"""Scale-out serving: generation on a vLLM server (`--enable-lora`), while retrieval, rendering and
citation parsing stay in groundtune. Either target a running vLLM (`--vllm-url`) or launch one.

The launched server gets a chat template written from the model's `PromptLayout`, so vLLM wraps
prompts exactly as groundtune's own engine and training did. vLLM needs a GPU; nothing here runs
on this project's CPU-only CI beyond building the command.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

from groundtune.core.errors import UnavailableError


def vllm_command(
    model_path: str,
    adapters: dict[str, Path],
    *,
    port: int,
    chat_template: Path,
    served_name: str,
    max_lora_rank: int = 64,
) -> list[str]:
    """The `vllm serve`-equivalent command line for a base model plus LoRA adapters."""
    cmd = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model_path,
        "--served-model-name",
        served_name,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chat-template",
        str(chat_template),
    ]
    if adapters:
        cmd += ["--enable-lora", "--max-lora-rank", str(max_lora_rank), "--lora-modules"]
        cmd += [f"{name}={path}" for name, path in adapters.items()]
    return cmd


def launch_vllm(cmd: list[str], url: str, timeout_s: float = 600.0) -> subprocess.Popen[bytes]:
    """Start vLLM and wait until `url/v1/models` answers."""
    if importlib.util.find_spec("vllm") is None:
        raise UnavailableError(
            "vLLM is not installed",
            hint="pip install 'groundtune[vllm]' on a GPU machine, or pass --vllm-url",
        )
    import httpx

    proc = subprocess.Popen(cmd)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UnavailableError(f"vLLM exited with code {proc.returncode}", hint="see its log above")
        try:
            if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(2)
    proc.terminate()
    raise UnavailableError(
        f"vLLM did not come up within {timeout_s:.0f}s", hint="check GPU memory and its log"
    )
