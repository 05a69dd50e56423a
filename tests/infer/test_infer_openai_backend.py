"""OpenAIBackend against a real HTTP server started here: a minimal chat-completions app that answers
from the tiny model through the Engine (serving proper lives in `serve`; this proves the interface)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from groundtune.core.errors import InvalidInputError, NotFoundError, UnavailableError
from groundtune.infer import GenerationConfig, GenerationRequest, OpenAIBackend


def _app(engine: Any, seen: list[dict[str, Any]], flaky: dict[str, int]) -> Any:
    app = FastAPI()
    lock = threading.Lock()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        seen.append(body)
        if flaky["remaining"] > 0:  # answer "busy" first, as a full serving queue does
            flaky["remaining"] -= 1
            return JSONResponse({"error": {"message": "busy"}}, status_code=429, headers={"Retry-After": "0"})
        model = body["model"]
        if model not in ("tiny", *engine.adapters):
            return JSONResponse({"error": {"message": f"unknown model {model}"}}, status_code=404)
        if body["max_tokens"] > 64:
            return JSONResponse({"error": {"message": "max_tokens too large"}}, status_code=400)
        messages = [m["content"] for m in body["messages"]]
        req = GenerationRequest(
            prompt=messages[-1],
            history=list(zip(messages[:-1:2], messages[1:-1:2], strict=True)),
            adapter=None if model == "tiny" else model,
            config=GenerationConfig(
                max_new_tokens=body["max_tokens"],
                temperature=body["temperature"],
                top_p=body["top_p"],
                stop=body.get("stop") or [],
                seed=body.get("seed"),
            ),
        )
        with lock:
            res = engine.generate([req])[0]
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": res.text},
                    "finish_reason": res.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": res.prompt_tokens,
                "completion_tokens": res.completion_tokens,
                "total_tokens": res.prompt_tokens + res.completion_tokens,
            },
        }

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(adapter_dirs) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    import uvicorn

    from groundtune.infer import Engine

    engine = Engine.load("tiny-random-gemma3", adapters={"alpha": adapter_dirs["alpha"]}, dtype="float32")
    seen: list[dict[str, Any]] = []
    flaky = {"remaining": 0}
    port = _free_port()
    config = uvicorn.Config(_app(engine, seen, flaky), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "test server did not start"
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "engine": engine, "seen": seen, "flaky": flaky}
    srv.should_exit = True
    thread.join(timeout=10)


def test_remote_results_equal_in_process_results(server, make_requests) -> None:  # type: ignore[no-untyped-def]
    reqs = make_requests(max_new_tokens=10) + make_requests(adapter="alpha", max_new_tokens=10)
    reqs.append(
        GenerationRequest(prompt="Hi", history=[("Demo?", "Yes.")], config=GenerationConfig(max_new_tokens=9))
    )
    reqs.append(GenerationRequest(prompt="Hello", config=GenerationConfig(max_new_tokens=12, stop=["w"])))
    done: list[int] = []
    with OpenAIBackend(server["url"], model="tiny", concurrency=3) as backend:
        remote = backend.generate(reqs, progress=done.append)
    local = server["engine"].generate(reqs)
    assert sum(done) == len(reqs)
    for r, loc in zip(remote, local, strict=True):
        assert (r.text, r.finish_reason) == (loc.text, loc.finish_reason)
        assert (r.prompt_tokens, r.completion_tokens) == (loc.prompt_tokens, loc.completion_tokens)
    [conversation] = [b for b in server["seen"] if len(b["messages"]) > 1]
    assert conversation["messages"] == [
        {"role": "user", "content": "Demo?"},
        {"role": "assistant", "content": "Yes."},
        {"role": "user", "content": "Hi"},
    ]
    engine = server["engine"]
    assert (
        local[-2].prompt_tokens == engine.count_tokens("Hi", [("Demo?", "Yes.")]) > engine.count_tokens("Hi")
    )
    [sent] = [b for b in server["seen"] if b.get("stop") == ["w"]]
    assert sent["messages"] == [{"role": "user", "content": "Hello"}]
    assert {b["model"] for b in server["seen"]} == {"tiny", "alpha"}


def test_sampling_settings_travel_to_the_server(server) -> None:  # type: ignore[no-untyped-def]
    cfg = GenerationConfig(max_new_tokens=8, temperature=0.7, top_p=0.9, seed=5)
    with OpenAIBackend(server["url"] + "/v1", model="tiny") as backend:
        a = backend.generate([GenerationRequest(prompt="Hi", config=cfg)])[0]
        b = backend.generate([GenerationRequest(prompt="Hi", config=cfg)])[0]
    body = server["seen"][-1]
    assert (body["temperature"], body["top_p"], body["seed"], body["max_tokens"]) == (0.7, 0.9, 5, 8)
    assert a.text == b.text


def test_busy_server_is_retried_after_retry_after(server) -> None:  # type: ignore[no-untyped-def]
    server["flaky"]["remaining"] = 2
    with OpenAIBackend(server["url"], model="tiny", max_retries=3) as backend:
        res = backend.generate([GenerationRequest(prompt="Hi", config=GenerationConfig(max_new_tokens=4))])
    assert res[0].completion_tokens == 4
    assert server["flaky"]["remaining"] == 0


def test_server_errors_map_to_groundtune_errors(server) -> None:  # type: ignore[no-untyped-def]
    with OpenAIBackend(server["url"], model="tiny") as backend:
        with pytest.raises(NotFoundError) as missing:
            backend.generate([GenerationRequest(prompt="Hi", adapter="nope")])
        assert "unknown model nope" in str(missing.value)
        with pytest.raises(InvalidInputError):
            backend.generate([GenerationRequest(prompt="Hi", config=GenerationConfig(max_new_tokens=100))])


def test_unreachable_server_is_unavailable() -> None:
    backend = OpenAIBackend(f"http://127.0.0.1:{_free_port()}", model="x", max_retries=0)
    with backend, pytest.raises(UnavailableError) as err:
        backend.generate([GenerationRequest(prompt="Hi")])
    assert err.value.hint
