"""Judge metrics go through a real OpenAI-compatible HTTP server (here a small grading app)."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI

from groundtune.core.schemas import ContextDocument, EvalRecord, Example, GroundedAnswer
from groundtune.eval.judge import judge_records
from groundtune.grounding.judge import parse_judge_score, render_judge_prompt
from groundtune.infer import OpenAIBackend
from tests.serve.live import free_port


def grading_app() -> FastAPI:
    """Scores 5 when the graded answer line contains '24 months', else 1; records what it saw."""
    app = FastAPI()
    app.state.prompts = []

    @app.post("/v1/chat/completions")
    def complete(body: dict) -> dict:
        prompt = body["messages"][0]["content"]
        app.state.prompts.append(prompt)
        answer = prompt.split("\nAnswer: ", 1)[1]
        score = 5 if "24 months" in answer else 1
        return {
            "choices": [{"message": {"content": f"Score: {score}"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2},
        }

    return app


@pytest.fixture()
def judge_url():
    app = grading_app()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(5)


def test_judge_scores_land_in_record_metrics(judge_url) -> None:
    url, app = judge_url
    docs = [ContextDocument(title="Warranty", text="The warranty lasts 24 months.", relevant=True)]
    ex = Example(id="e", question="How long?", documents=docs, answer="24 months")
    good = EvalRecord(
        example_id="e", model="m", prompt="p", output="o", parsed=GroundedAnswer(answer="24 months [1]")
    )
    bad = EvalRecord(
        example_id="e", model="m", prompt="p", output="o", parsed=GroundedAnswer(answer="36 months [1]")
    )
    with OpenAIBackend(url, model="judge") as backend:
        judge_records([good, bad], [ex], backend)
    assert good.metrics == {"judge_faithfulness": 1.0, "judge_correctness": 1.0}
    assert bad.metrics == {"judge_faithfulness": 0.0, "judge_correctness": 0.0}
    assert len(app.state.prompts) == 4
    faithfulness = [p for p in app.state.prompts if "faithfulness" in p]
    assert len(faithfulness) == 2 and all("The warranty lasts 24 months." in p for p in faithfulness)


def test_judge_prompt_and_score_parsing() -> None:
    assert "Reference answer: 7" in render_judge_prompt("correctness", "q", "a", gold="7")
    assert parse_judge_score("Score: 3") == 0.5 and parse_judge_score("no idea") is None
    with pytest.raises(ValueError):
        render_judge_prompt("style", "q", "a")
