"""The teacher generator against a real OpenAI-compatible HTTP server started here (FastAPI on a
free loopback port) that answers deterministically, fails on purpose, and records concurrency."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from groundtune.core.errors import UnavailableError
from groundtune.core.schemas import Chunk
from groundtune.data.teacher import TeacherConfig, generate_qa, parse_answer, parse_questions
from groundtune.grounding import is_verbatim


@dataclass
class ServerState:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    fail_first: int = 0  # fail this many requests with 503 before answering
    refuse_all: bool = False
    seen_auth: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_app(state: ServerState) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        state.seen_auth.add(request.headers.get("authorization", ""))
        with state.lock:
            state.requests += 1
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            fail = state.fail_first > 0
            state.fail_first -= 1
        try:
            await asyncio.sleep(0.02)  # hold the slot so concurrent requests overlap
            if state.refuse_all:
                return JSONResponse({"error": {"message": "bad model"}}, status_code=400)
            if fail:
                return JSONResponse(
                    {"error": {"message": "busy"}}, status_code=503, headers={"retry-after": "0"}
                )
            prompt = body["messages"][0]["content"]
            text = re.search(r":\n\n(.*?)\n\n", prompt, re.DOTALL).group(1)  # type: ignore[union-attr]
            first = text.split(". ")[0].rstrip(".") + "."
            if "Write" in prompt:
                n = int(re.search(r"Write (\d+)", prompt).group(1))  # type: ignore[union-attr]
                content = "\n".join(
                    f"{i + 1}. What does the passage say about {first.split()[-1]} {i}?" for i in range(n)
                )
            elif "MANGLE" in text:
                content = json.dumps({"evidence": first.upper(), "answer": first.split()[-1]})
            elif "NOANSWER" in text:
                content = json.dumps({"answer": None})
            else:
                content = "Sure! " + json.dumps({"evidence": first, "answer": first.split()[-1].rstrip(".")})
            return {
                "id": "cmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": len(prompt.split()),
                    "completion_tokens": len(content.split()),
                    "total_tokens": len(prompt.split()) + len(content.split()),
                },
            }
        finally:
            with state.lock:
                state.in_flight -= 1

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, ServerState]]:
    state = ServerState()
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(make_app(state), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.02)
    assert srv.started, "test server did not start"
    yield f"http://127.0.0.1:{port}/v1", state
    srv.should_exit = True
    thread.join(timeout=10)


def chunks(n: int, extra: str = "") -> list[Chunk]:
    out = []
    for i in range(n):
        text = f"Item {i} was built in year{1900 + i}. {extra}It stands in town{i}. Many visit it."
        out.append(Chunk(id=f"c{i}", doc_id=f"d{i}", title=f"Item {i}", text=text, start=0, end=len(text)))
    return out


def config(url: str, **kw: Any) -> TeacherConfig:
    return TeacherConfig(base_url=url, model="teacher-1", backoff_s=0.01, **kw)


def test_generates_grounded_pairs_with_bounded_concurrency_and_cache(
    server: tuple[str, ServerState], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = server
    monkeypatch.setenv("TEACHER_KEY", "sk-test")
    state.requests, state.max_in_flight = 0, 0
    cfg = config(url, questions_per_chunk=2, concurrency=3, api_key_env="TEACHER_KEY")
    result = generate_qa(chunks(6), cfg, cache_dir=tmp_path / "cache")
    assert len(result.pairs) == 12
    pair = result.pairs[0]
    assert pair.gold_chunk_ids == ["c0"] and pair.gold_doc_ids == ["d0"] and pair.source == "teacher"
    assert pair.answers == ["year1900"]
    assert pair.gold_evidence == ["Item 0 was built in year1900."]
    assert all(
        is_verbatim(p.gold_evidence[0], chunks(6)[int(p.gold_chunk_ids[0][1:])].text) for p in result.pairs
    )
    stats = result.stats
    assert stats.requests == 6 + 12 == state.requests
    assert 1 < state.max_in_flight <= 3
    assert stats.prompt_tokens > 0 and stats.completion_tokens > 0
    assert "Bearer sk-test" in state.seen_auth
    # Same prompts again: answered from the on-disk cache, no request reaches the server.
    again = generate_qa(chunks(6), cfg, cache_dir=tmp_path / "cache")
    assert again.stats.cache_hits == 18 and again.stats.requests == 0 and state.requests == 18
    assert [p.model_dump() for p in again.pairs] == [p.model_dump() for p in result.pairs]


def test_retries_transient_errors(server: tuple[str, ServerState], tmp_path: Path) -> None:
    url, state = server
    state.fail_first = 3
    result = generate_qa(chunks(1), config(url, concurrency=1, max_retries=4), cache_dir=tmp_path)
    assert result.stats.retries == 3 and result.stats.failures == 0
    assert len(result.pairs) == 1


def test_non_verbatim_evidence_and_unanswered_are_counted(
    server: tuple[str, ServerState], tmp_path: Path
) -> None:
    url, _ = server
    mangled = chunks(1, extra="MANGLE ")
    unanswered = [
        c.model_copy(update={"id": "cx", "text": c.text.replace("MANGLE", "NOANSWER")}) for c in mangled
    ]
    result = generate_qa(mangled + unanswered, config(url), cache_dir=tmp_path)
    assert result.stats.evidence_not_verbatim == 1 and result.stats.unanswered == 1
    (pair,) = result.pairs
    assert pair.gold_evidence == [] and pair.gold_chunk_ids == ["c0"]


def test_a_teacher_that_refuses_everything_is_a_clear_error(
    server: tuple[str, ServerState], tmp_path: Path
) -> None:
    url, state = server
    state.refuse_all = True
    try:
        with pytest.raises(UnavailableError) as err:
            generate_qa(chunks(2), config(url), cache_dir=tmp_path)
        assert "HTTP 400" in err.value.message and err.value.hint
    finally:
        state.refuse_all = False


def test_unreachable_teacher(tmp_path: Path) -> None:
    cfg = config(f"http://127.0.0.1:{free_port()}/v1", max_retries=1)
    with pytest.raises(UnavailableError):
        generate_qa(chunks(1), cfg, cache_dir=tmp_path)


def test_reply_parsers() -> None:
    assert parse_questions("1. What?\n- Why is it?\n\n* Why is it?\nok", 5) == ["What?", "Why is it?"]
    assert parse_answer('Here: {"answer": "x", "evidence": "y"} done') == ("x", "y")
    assert parse_answer("no json") == (None, None)
    assert parse_answer('{"answer": null}') == (None, None)


def test_teacher_source_in_a_dataset_build(server: tuple[str, ServerState]) -> None:
    """`data build` with a teacher source: questions written from KB chunks, labelled by gold chunk id."""
    from groundtune import kb as kb_api
    from groundtune.data import BuildConfig, SourceSpec, build_dataset
    from groundtune.data.synthetic import make_synthetic_qa
    from groundtune.data.tokens import load_counter

    url, _ = server
    kb_api.create("tkb", embedder="tiny-random-minilm")
    kb_api.add("tkb", make_synthetic_qa(20, seed=4).corpus)
    source = SourceSpec(kind="teacher", chunks=8, teacher=config(url, questions_per_chunk=2))
    result = build_dataset(
        BuildConfig(
            name="tds",
            kb="tkb",
            sources=[source],
            lm="tiny-random-gemma3",
            max_tokens=4096,
            oracle_fraction=1.0,
            splits={"train": 1.0},
        ),
        counter=load_counter("tiny-random-gemma3"),
    )
    examples = result.splits["train"]
    assert result.report["sources"] == {"teacher": 16} and len(examples) == 16
    assert all(not ex.target.refusal and ex.target.quotes for ex in examples)
    for ex in examples:
        (rel,) = [d for d in ex.documents if d.relevant]
        assert rel.label_reason.startswith("gold:gold_chunk_id")
