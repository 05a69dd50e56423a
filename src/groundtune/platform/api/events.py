"""A job's events as a page or as server-sent events (`?stream=true`): every stored event after the
cursor, then new ones as the worker writes them, until the job has finished and all are sent; then
`data: [DONE]`. Each SSE message is one JobEvent as JSON, its `id:` the event id (a reconnecting
client passes it back as `after`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from fastapi.responses import StreamingResponse

from groundtune.core.artifacts import TERMINAL_STATES, JobEvent, Page

POLL_S = 0.25
HEARTBEAT_S = 15.0


def event_stream(store: Any, job_id: str, after: int | None) -> Iterator[str]:
    cursor = after
    quiet = time.monotonic()
    while True:
        done = store.get_job(job_id).state in TERMINAL_STATES  # read first: no event can be missed
        while True:
            page: Page[JobEvent] = store.list_events(job_id, after=cursor, limit=100)
            for event in page.data:
                cursor = event.id
                yield f"id: {event.id}\ndata: {json.dumps(event.model_dump(mode='json'))}\n\n"
                quiet = time.monotonic()
            if not page.has_more:
                break
        if done:
            yield "data: [DONE]\n\n"
            return
        if time.monotonic() - quiet > HEARTBEAT_S:  # a comment line keeps proxies from closing the stream
            yield ": keep-alive\n\n"
            quiet = time.monotonic()
        time.sleep(POLL_S)


def events_response(store: Any, job_id: str, after: int | None, limit: int, stream: bool) -> Any:
    store.get_job(job_id)  # 404 before a stream opens
    if stream:
        return StreamingResponse(
            event_stream(store, job_id, after),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache"},
        )
    return store.list_events(job_id, after=after, limit=limit)
