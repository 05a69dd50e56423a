"""An extractive reader behind an OpenAI-compatible endpoint: a language model whose grounded replies
can be predicted. groundtune serves it as it would a vLLM server (`engine: vllm`), so a test sees the
whole serving path — retrieval, prompt, parsing, quote verification, citations — produce a real
citation, which a tiny random model does not reliably write. Only the language model is stood in."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

_DOCUMENT = re.compile(r"^\[(\d+)\] [^\n]*\n(.*?)(?=\n\n\[\d+\] |\n\nQuestion: |\Z)", re.S | re.M)
_WORD = re.compile(r"[a-z0-9]{4,}")


def read_reply(prompt: str) -> str:
    """An extractive reader's grounded reply: the numbered document sharing most words with the
    question, its first sentence quoted verbatim and given as the answer, citing it."""
    question = prompt.rsplit("Question:", 1)[-1].lower()
    asked = set(_WORD.findall(question))
    best: tuple[int, int, str] | None = None
    for match in _DOCUMENT.finditer(prompt):
        n, text = int(match.group(1)), match.group(2).strip()
        overlap = len(asked & set(_WORD.findall(text.lower())))
        if best is None or overlap > best[0]:
            best = (overlap, n, text)
    if best is None or best[0] == 0:
        return "Relevant: none\nAnswer: The documents do not contain the answer."
    _, n, text = best
    sentences = [
        s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.strip()) > 20 and '"' not in s
    ]
    sentences = [s for s in sentences if not s.startswith("#")] or sentences  # past a Markdown heading
    quote = sentences[0] if sentences else text.splitlines()[0]
    return f'Relevant: [{n}]\nQuote [{n}]: "{quote}"\nAnswer: {quote} [{n}]'


class Reader:
    """`read_reply` behind `/v1/chat/completions` on a free loopback port (a real uvicorn server)."""

    def __init__(self) -> None:
        import uvicorn
        from fastapi import FastAPI

        from tests.serve.live import free_port

        app = FastAPI()
        self.prompts: list[str] = []

        @app.post("/v1/chat/completions")
        def complete(body: dict[str, Any]) -> dict[str, Any]:
            prompt = str(body["messages"][-1]["content"])
            self.prompts.append(prompt)
            reply = read_reply(prompt)
            return {
                "id": "chatcmpl-reader",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "reader"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(reply.split())},
            }

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Reader:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
