"""The grounded endpoint through real HTTP and through the official `openai` package."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from groundtune.core.schemas import ContextDocument
from groundtune.grounding import get_format
from groundtune.serve.deployment import Limits
from tests.serve.live import RunningServer, deployment_for

DOCS = [
    {"title": "Warranty", "text": "The warranty lasts 24 months from purchase."},
    {"title": "Batteries", "text": "Batteries are covered for 12 months."},
]


def chat(url: str, **body) -> httpx.Response:
    payload = {
        "model": "tiny-random-gemma3",
        "messages": [{"role": "user", "content": "How long is the warranty?"}],
        "max_tokens": 8,
        "documents": DOCS,
        **body,
    }
    return httpx.post(f"{url}/v1/chat/completions", json=payload, timeout=60)


def test_models_and_byo_documents_over_http(server: RunningServer) -> None:
    models = httpx.get(f"{server.url}/v1/models").json()
    assert [m["id"] for m in models["data"]] == ["tiny-random-gemma3", "tuned"]
    assert models["data"][1]["kind"] == "adapter"
    r = chat(server.url)
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"].startswith("req_")
    body = r.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["message"]["role"] == "assistant"
    ctx = body["choices"][0]["message"]["context"]
    assert [d["title"] for d in ctx["retrieved"]] == ["Warranty", "Batteries"]
    assert ctx["grounding_format"].startswith("cited@") and isinstance(ctx["refusal"], bool)
    usage = body["usage"]
    assert usage["prompt_tokens"] > 20 and 1 <= usage["completion_tokens"] <= 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_openai_package_works_unchanged_including_streaming(server: RunningServer) -> None:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    assert [m.id for m in client.models.list()] == ["tiny-random-gemma3", "tuned"]
    kwargs = dict(
        model="tuned",
        messages=[{"role": "user", "content": "How long is the warranty?"}],
        max_tokens=12,
        temperature=0,
        extra_body={"documents": DOCS},
    )
    done = client.chat.completions.create(**kwargs)
    assert done.choices[0].message.content is not None
    assert done.model_extra is not None or done.choices[0].message.model_extra["context"]["retrieved"]
    chunks = list(client.chat.completions.create(stream=True, **kwargs))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == done.choices[0].message.content  # same greedy decode, same visible answer
    last = chunks[-1]
    assert last.choices[0].finish_reason in ("stop", "length")
    assert last.choices[0].delta.model_extra["context"]["grounding_format"].startswith("cited@")
    assert last.usage.completion_tokens >= 1


def test_sse_wire_format_ends_with_done(server: RunningServer) -> None:
    with httpx.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        timeout=60,
        json={
            "model": "tiny-random-gemma3",
            "messages": [{"role": "user", "content": "q?"}],
            "max_tokens": 4,
            "stream": True,
            "documents": DOCS,
        },
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)
    assert json.loads(lines[0][6:])["choices"][0]["delta"]["role"] == "assistant"


def test_adapter_is_chosen_per_request(server: RunningServer) -> None:
    base = chat(server.url, max_tokens=16).json()
    tuned = chat(server.url, model="tuned", max_tokens=16).json()
    assert base["model"] == "tiny-random-gemma3" and tuned["model"] == "tuned"
    raw = [base["usage"]["completion_tokens"], tuned["usage"]["completion_tokens"]]
    assert raw[0] >= 1 and raw[1] >= 1
    assert base["choices"][0]["message"] != tuned["choices"][0]["message"]
    again = chat(server.url, max_tokens=16).json()  # base unaffected by the adapter request in between
    assert again["choices"][0]["message"]["content"] == base["choices"][0]["message"]["content"]


def test_adapters_load_and_unload_at_run_time(server: RunningServer, tiny_adapter: Path) -> None:
    r = httpx.post(f"{server.url}/v1/adapters", json={"name": "second", "path": str(tiny_adapter)})
    assert r.status_code == 200, r.text
    assert "second" in [m["id"] for m in httpx.get(f"{server.url}/v1/models").json()["data"]]
    assert chat(server.url, model="second").status_code == 200
    assert httpx.delete(f"{server.url}/v1/adapters/second").status_code == 200
    r = chat(server.url, model="second")
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    assert httpx.delete(f"{server.url}/v1/adapters/second").status_code == 404


@pytest.mark.parametrize(
    ("body", "code", "needle"),
    [
        (
            {"documents": [{"title": str(i), "text": "x"} for i in range(21)]},
            "too_many_documents",
            "limit of 20",
        ),
        ({"documents": [{"title": "big", "text": "x" * 20_001}]}, "document_too_long", "20000"),
        ({"max_tokens": 5000}, "max_tokens_too_large", "limit of 1024"),
        ({"messages": [{"role": "user", "content": "y" * 8001}]}, "message_too_long", "8000"),
        ({"messages": []}, "invalid_value", "messages"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, None, "last message"),
        ({"documents": None}, "no_context", "--kb"),
        ({"temperature": 9}, "invalid_value", "temperature"),
    ],
)
def test_bad_input_gets_400_with_openai_error_body(
    server: RunningServer, body: dict, code: str | None, needle: str
) -> None:
    r = chat(server.url, **body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and needle in error["message"]
    if code:
        assert error["code"] == code


def test_full_queue_answers_429_and_slow_requests_504(tiny_adapter: Path) -> None:
    deployment = deployment_for({}, max_batch=1, max_queue=1, timeout_s=1.0)
    engine = deployment.backend
    with RunningServer(deployment) as server:
        results: list[httpx.Response] = []
        with engine._lock:  # hold the model: one request runs (blocked), one waits, the rest are refused
            threads = [threading.Thread(target=lambda: results.append(chat(server.url))) for _ in range(5)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        codes = sorted(r.status_code for r in results)
        assert codes.count(429) >= 3 and set(codes) <= {429, 504}
        limited = next(r for r in results if r.status_code == 429)
        assert (
            int(limited.headers["retry-after"]) >= 1 and limited.json()["error"]["type"] == "rate_limit_error"
        )
        assert 504 in codes
        deployment.timeout_s = 120.0  # a loaded CI machine must not turn the recovery check into a 504
        assert chat(server.url).status_code == 200  # the server recovers once the model is free
    deployment.scheduler.close()


def test_api_key_required_when_set_and_beyond_loopback(tiny_adapter: Path) -> None:
    from groundtune.core.errors import InvalidInputError
    from groundtune.serve.server import serve

    deployment = deployment_for({})
    with RunningServer(deployment, api_key="s3cret") as server:
        assert httpx.get(f"{server.url}/v1/models").status_code == 401
        bad = httpx.get(f"{server.url}/v1/models", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.json()["error"]["type"] == "authentication_error"
        ok = httpx.get(f"{server.url}/v1/models", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="s3cret")
        assert client.models.list().data
        assert httpx.get(f"{server.url}/health").status_code == 200
    with pytest.raises(InvalidInputError) as err:
        serve(deployment, host="0.0.0.0", port=1, api_key=None)
    assert "--api-key" in str(err.value)
    deployment.scheduler.close()


def test_citations_carry_sources_and_verified_quotes() -> None:
    """The context built from a well-formed reply (the parser path serving relies on)."""
    from groundtune.infer.request import GenerationRequest
    from groundtune.serve.deployment import Deployment, Prepared

    docs = [
        ContextDocument(
            title="Warranty",
            text="The warranty lasts 24 months from purchase.",
            doc_id="d1",
            chunk_id="c1",
            source="w.md",
            score=0.9,
        ),
        ContextDocument(
            title="Batteries",
            text="Batteries are covered for 12 months.",
            doc_id="d2",
            chunk_id="c2",
            source="b.md",
            score=0.5,
        ),
    ]
    fmt = get_format("cited")
    prepared = Prepared("chatcmpl_x", "m", fmt, docs, GenerationRequest(prompt="p"), "hash1")
    deployment = Deployment(backend=None, base_name="m", limits=Limits())
    reply = 'Relevant: [1]\nQuote [1]: "The warranty lasts 24 months"\nQuote [2]: "made up"\nAnswer: 24 months [1].'
    message = deployment.message(prepared, _result(reply))
    assert message.content == "24 months [1]."
    (citation,) = message.context.citations
    assert (citation.document_id, citation.chunk_id, citation.source, citation.score) == (
        "d1",
        "c1",
        "w.md",
        0.9,
    )
    assert citation.quote == "The warranty lasts 24 months" and citation.quote_verified
    refusal = deployment.message(prepared, _result(f"Relevant: none\nAnswer: {fmt.refusal}"))
    assert refusal.context.refusal and refusal.content == fmt.refusal and not refusal.context.citations


def _result(text: str, entropy: float | None = None) -> Any:
    """A finished generation of `text`, one token per character, each with `entropy` when given."""
    from groundtune.infer.request import GenerationResult

    scores = [entropy] * len(text) if entropy is not None else []
    ends = list(range(1, len(text) + 1)) if entropy is not None else []
    return GenerationResult(
        text=text,
        finish_reason="stop",
        prompt_tokens=1,
        completion_tokens=len(text),
        latency_s=0.0,
        token_entropy=scores,
        token_ends=ends,
    )


def _calibrated(ref: Any, threshold: float = 0.5) -> dict[str, Any]:
    """The `calibrations` of a deployment serving `ref` with one named calibration at `threshold`."""
    from groundtune.core.calibrations import Calibration
    from groundtune.serve.calibrations import Chosen

    calibration = Calibration(
        name="cal_test",
        created="2025-01-01T00:00:00.000000Z",
        groundtune_version="0",
        adapter=ref.name,
        adapter_path=str(ref.path),
        adapter_run_id=None,
        model="m",
        grounding_format="cited@1",
        dataset="d",
        split="validation",
        max_false_refusal=0.1,
        threshold=threshold,
        items=10,
        answerable=8,
        false_refusal=0.0,
        refusal_recall=0.5,
    )
    return {ref.name: Chosen(calibration, named=True)}


def test_adapter_with_calibrated_abstention_refuses_unsure_answers(tmp_path: Path) -> None:
    """An adapter served with a calibration turns an answer the model was unsure of into the
    refusal, says why, and keeps sure answers; the base model never abstains."""
    from groundtune.core.adapters import AdapterRef
    from groundtune.infer.request import GenerationRequest
    from groundtune.serve.deployment import Deployment, Prepared

    docs = [
        ContextDocument(title="Warranty", text="The warranty lasts 24 months.", doc_id="d1", chunk_id="c1")
    ]
    fmt = get_format("cited")
    ref = AdapterRef("tuned", tmp_path)
    deployment = Deployment(
        backend=None, base_name="m", adapters={"tuned": ref}, limits=Limits(), calibrations=_calibrated(ref)
    )
    reply = 'Relevant: [1]\nQuote [1]: "The warranty lasts 24 months."\nAnswer: 24 months [1].'
    for model, entropy, refuses in (("tuned", 0.9, True), ("tuned", 0.1, False), ("m", 0.9, False)):
        prepared = Prepared("chatcmpl_x", model, fmt, docs, GenerationRequest(prompt="p"), None)
        message = deployment.message(prepared, _result(reply, entropy))
        assert message.context.refusal is refuses
        assert message.context.uncertainty == pytest.approx(entropy)
        assert message.content == (fmt.refusal if refuses else "24 months [1].")
        assert any("unsure" in w and "cal_test" in w for w in message.context.warnings) is refuses
    cards = {c.id: c for c in deployment.models()}
    assert cards["tuned"].calibration == "cal_test" and "0.500" in cards["tuned"].abstention
    assert cards["m"].calibration is None and "never abstains" in cards["m"].abstention


def test_an_engine_without_entropies_says_abstention_is_off(tmp_path: Path) -> None:
    """On vLLM no token entropies come back: the calibration is not applied, the model card, every
    reply and /health say so, and nothing is held back from the stream."""
    from groundtune.core.adapters import AdapterRef
    from groundtune.serve.calibrations import NO_ENTROPIES
    from groundtune.serve.deployment import Deployment
    from groundtune.serve.schemas import ChatCompletionRequest

    ref = AdapterRef("tuned", tmp_path)
    deployment = Deployment(
        backend=None,
        base_name="m",
        adapters={"tuned": ref},
        limits=Limits(),
        calibrations=_calibrated(ref),
        abstention_off=NO_ENTROPIES,
    )
    assert deployment.abstention_threshold("tuned") is None  # so streams are not held back
    card = next(c for c in deployment.models() if c.id == "tuned")
    assert card.abstention == NO_ENTROPIES and any("cal_test is not applied" in w for w in card.warnings)
    request = {"model": "tuned", "messages": [{"role": "user", "content": "q?"}], "documents": DOCS}
    prepared = deployment.prepare(ChatCompletionRequest.model_validate(request))
    assert any("abstention is off" in w for w in prepared.warnings)


def test_a_model_that_may_abstain_streams_its_answer_only_once_decided(tmp_path: Path) -> None:
    """An answer already streamed could not be taken back, so an adapter with a threshold sends the
    answer (or the refusal it became) in one piece at the end; a model without one streams as it goes."""
    from groundtune.core.adapters import AdapterRef
    from groundtune.infer.request import GenerationRequest
    from groundtune.serve.deployment import Deployment, Prepared
    from groundtune.serve.streaming import sse_events

    docs = [
        ContextDocument(title="Warranty", text="The warranty lasts 24 months.", doc_id="d1", chunk_id="c1")
    ]
    fmt = get_format("cited")
    ref = AdapterRef("tuned", tmp_path)
    reply = 'Relevant: [1]\nQuote [1]: "The warranty lasts 24 months."\nAnswer: 24 months, counted from purchase [1].'

    class Scripted(Deployment):
        entropy = 0.0

        def deltas(self, prepared: Prepared):  # type: ignore[no-untyped-def, override]
            for i in range(0, len(reply), 4):  # the reply arrives a few characters at a time
                yield reply[i : i + 4], None
            yield "", _result(reply, self.entropy)

    deployment = Scripted(
        backend=None, base_name="m", adapters={"tuned": ref}, limits=Limits(), calibrations=_calibrated(ref)
    )
    answer = "24 months, counted from purchase [1]."
    for model, entropy, expected, pieces in (
        ("tuned", 0.9, fmt.refusal, 1),
        ("tuned", 0.1, answer, 1),
        ("m", 0.9, answer, None),
    ):
        deployment.entropy = entropy
        prepared = Prepared("chatcmpl_x", model, fmt, docs, GenerationRequest(prompt="p"), None)
        events = [json.loads(e[6:]) for e in sse_events(deployment, prepared) if e != "data: [DONE]\n\n"]
        contents = [e["choices"][0]["delta"].get("content") for e in events]
        contents = [c for c in contents if c]
        assert "".join(contents) == expected
        assert len(contents) == pieces if pieces else len(contents) > 3
        assert events[-1]["choices"][0]["delta"]["context"]["refusal"] is (expected == fmt.refusal)
