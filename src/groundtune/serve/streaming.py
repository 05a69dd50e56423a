"""Server-sent events for a streamed chat completion.

The model writes the whole grounded reply (`Relevant:` / `Quote` / `Answer:` in the cited style);
the user sees only the answer. So the raw stream is re-parsed with the grounding format as it grows
and only growth of the parsed answer is sent as content deltas; the grounding context (citations,
refusal, retrieved documents) and usage arrive in the last chunk, then `data: [DONE]`.

A model that may abstain (an adapter with a calibrated threshold) sends its answer in one piece with
the last chunk: whether it abstains is known only once the answer ends, and an answer already shown
could not be taken back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from groundtune.core.errors import GroundtuneError
from groundtune.serve.deployment import Deployment, Prepared, usage


def _chunk(prepared: Prepared, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    body = {
        "id": prepared.id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": prepared.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **extra,
    }
    return f"data: {json.dumps(body)}\n\n"


def visible_answer(prepared: Prepared, raw: str) -> str:
    """The part of a partial reply the user may see so far: the parsed answer once it has begun."""
    parsed = prepared.fmt.parse(raw, prepared.documents)
    if "no_structure" in parsed.violations and prepared.fmt.id != "answer-only":
        return ""  # still inside Relevant/Quote lines (or nothing yet)
    return parsed.answer.rstrip()


def sse_events(deployment: Deployment, prepared: Prepared) -> Iterator[str]:
    """The SSE body of one streamed completion (errors mid-stream become an error event)."""
    yield _chunk(prepared, {"role": "assistant", "content": ""})
    raw, sent = "", ""
    hold = deployment.abstention_threshold(prepared.model) is not None
    try:
        for delta, result in deployment.deltas(prepared):
            if result is None:
                raw += delta
                if hold:
                    continue
                shown = visible_answer(prepared, raw)
                if shown.startswith(sent) and len(shown) > len(sent):
                    yield _chunk(prepared, {"content": shown[len(sent) :]})
                    sent = shown
                continue
            message = deployment.message(prepared, result)
            if message.content.startswith(sent) and len(message.content) > len(sent):
                yield _chunk(prepared, {"content": message.content[len(sent) :]})
            yield _chunk(
                prepared,
                {"context": message.context.model_dump()},
                result.finish_reason,
                usage=usage(result).model_dump(),
            )
    except GroundtuneError as exc:
        yield f"data: {json.dumps(exc.to_dict())}\n\n"
    yield "data: [DONE]\n\n"
