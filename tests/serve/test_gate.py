"""A served adapter whose calibration holds an answerability gate and a relevance margin: documents
that do not hold an answer get the refusal without generating (said in a warning, the score in the
context); documents that do make the reply answer, naming only documents near the best one."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundtune.core.adapters import resolve_adapter
from groundtune.grounding import get_format
from groundtune.models.registry import TINY_EMBEDDER
from groundtune.serve.calibrations import Chosen
from groundtune.serve.schemas import ChatCompletionRequest
from tests.core.test_calibrations import calibration
from tests.serve.live import deployment_for

QUESTION = "How long does the kettle warranty last?"
HOLDS = {"title": "Kettle", "text": "The kettle warranty lasts 24 months from the date of purchase."}
NEAR = {"title": "Kettle care", "text": "Descale the kettle warranty parts every month."}
SILENT = {"title": "Toaster", "text": "The toaster comes in red and blue."}


def _request(documents: list[dict[str, str]]) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {
            "model": "tuned",
            "messages": [{"role": "user", "content": QUESTION}],
            "max_tokens": 24,
            "temperature": 0,
            "documents": documents,
        }
    )


def test_the_gate_refuses_silent_documents_and_the_margin_limits_what_may_be_named(
    tiny_adapter: Path,
) -> None:
    deployment = deployment_for({"tuned": tiny_adapter})
    ref = resolve_adapter(str(tiny_adapter))
    gated = calibration("gated", ref, threshold=None).model_copy(
        update={"signal": "answerability", "gate": 0.5, "embedder": TINY_EMBEDDER, "relevance_margin": 0.0}
    )
    deployment.calibrations["tuned"] = Chosen(gated, named=True)
    try:
        silent = deployment.prepare(_request([SILENT]))
        assert silent.gated == "refuse" and silent.answerability is not None and silent.answerability < 0.5
        reply = deployment.complete(_request([SILENT])).choices[0].message
        assert reply.content == get_format("cited").refusal
        assert reply.context.answerability == silent.answerability
        assert any("do not appear to hold an answer" in w and "gated" in w for w in reply.context.warnings)

        holds = deployment.prepare(_request([NEAR, SILENT, HOLDS]))
        constraint = holds.generation.constraint
        assert holds.gated == "answer" and constraint is not None and constraint.must_answer
        assert constraint.listable == [3]  # margin 0: only the best-matching document
        message = deployment.complete(_request([NEAR, SILENT, HOLDS])).choices[0].message
        assert {c.document for c in message.context.citations} <= {3}

        # switched off, nothing is scored and the model decides alone
        # a weighted gate reads the features: the best sentence's score less 0.5, cut at 0, decides alike
        weighted = gated.model_copy(update={"gate": 0.0, "gate_weights": [1.0, 0.0, 0.0, 0.0, -0.5]})
        deployment.calibrations["tuned"] = Chosen(weighted, named=True)
        again = deployment.prepare(_request([SILENT]))
        assert again.gated == "refuse" and again.answerability == pytest.approx(silent.answerability - 0.5)
        assert deployment.prepare(_request([NEAR, SILENT, HOLDS])).generation.constraint == constraint

        # a calibration that names every document within its margin: the reply lists them all
        every = gated.model_copy(update={"relevance_margin": 1.0, "list_all": True})
        deployment.calibrations["tuned"] = Chosen(every, named=True)
        listing = deployment.prepare(_request([NEAR, SILENT, HOLDS])).generation.constraint
        assert listing is not None and listing.list_all and listing.listable == [1, 2, 3]
        long = _request([NEAR, SILENT, HOLDS]).model_copy(update={"max_tokens": 40})
        assert deployment.complete(long).choices[0].message.context.relevant == [1, 2, 3]

        deployment.abstention_off = True
        free = deployment.prepare(_request([NEAR, SILENT, HOLDS]))
        assert free.gated is None and free.answerability is None
        assert free.generation.constraint is not None and free.generation.constraint.listable is None
    finally:
        deployment.scheduler.close()
