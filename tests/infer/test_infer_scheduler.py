"""BatchScheduler: concurrent callers share batches, stream through it, and a full queue says 429."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from groundtune.core.errors import NotFoundError, RateLimitError, UnavailableError
from groundtune.infer import BatchScheduler


def test_concurrent_requests_are_batched_and_match_direct_results(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    reqs = make_requests(max_new_tokens=10) * 2
    expected = [r.text for r in engine.generate(reqs)]
    with BatchScheduler(engine, gather_s=0.5) as scheduler, ThreadPoolExecutor(8) as pool:
        futures = list(pool.map(scheduler.submit, reqs))
        texts = [f.result(timeout=60).text for f in futures]
        assert texts == expected
        assert sum(scheduler.batches) == len(reqs)
        assert len(scheduler.batches) < len(reqs)  # callers shared decode steps


def test_streaming_through_the_scheduler(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    req = make_requests(max_new_tokens=15)[2]
    expected = engine.generate([req])[0]
    with BatchScheduler(engine) as scheduler:
        stream = scheduler.stream(req, timeout_s=60)
        other = scheduler.submit(make_requests(max_new_tokens=5)[0])
        assert "".join(stream) == expected.text
        # equal up to timing and float rounding of the entropies (the streamed row shared its batch)
        got = stream.result
        assert got.model_copy(update={"latency_s": 0, "token_entropy": []}) == expected.model_copy(
            update={"latency_s": 0, "token_entropy": []}
        )
        assert got.token_entropy == pytest.approx(expected.token_entropy, rel=1e-3, abs=1e-4)
        assert other.result(timeout=60).completion_tokens == 5


def test_full_queue_is_refused_and_bad_requests_fail_in_the_caller(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    scheduler = BatchScheduler(engine, max_queue=2, gather_s=0.0)
    with engine._lock:  # hold the model, as a long batch would: the worker waits, the queue fills
        first = scheduler.submit(make_requests(max_new_tokens=3)[0])
        waiting = []
        with pytest.raises(RateLimitError) as err:
            for _ in range(10):
                waiting.append(scheduler.submit(make_requests(max_new_tokens=3)[1]))
        assert err.value.status == 429 and err.value.retry_after > 0
        # The queue holds two. How many got in first depends on how many the worker took before it
        # blocked on the model (with no gathering pause it takes whatever is queued as it wakes).
        assert len(waiting) >= 1 and len(scheduler._queue) <= 2
        with pytest.raises(NotFoundError):
            scheduler.submit(make_requests(adapter="missing")[0])
    assert first.result(timeout=60).completion_tokens == 3
    scheduler.close()
    with pytest.raises(UnavailableError):
        scheduler.submit(make_requests()[0])


def test_cancelled_rows_leave_the_batch_without_disturbing_others(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    reqs = make_requests(max_new_tokens=12)
    expected = [r.text for r in engine.generate(reqs)]
    steps = {"n": 0}

    def cancel_second(index: int) -> bool:
        steps["n"] += 1
        return index == 1 and steps["n"] > 6  # give up after a few steps

    results = {e.index: e.result for e in engine.events(reqs, cancel_second) if e.result is not None}
    assert sorted(results) == [0, 2, 3]
    assert [results[i].text for i in (0, 2, 3)] == [expected[i] for i in (0, 2, 3)]


def test_cancelled_futures_and_closed_streams_do_not_break_the_scheduler(engine, make_requests) -> None:  # type: ignore[no-untyped-def]
    reqs = make_requests(max_new_tokens=30)
    expected = engine.generate(reqs)
    with BatchScheduler(engine, gather_s=0.3) as scheduler:
        doomed = scheduler.submit(reqs[0])
        stream = scheduler.stream(reqs[1], timeout_s=60)
        kept = scheduler.submit(reqs[2])
        assert doomed.cancel()
        for _ in stream:
            break  # the client went away after the first delta
        stream.close()
        assert kept.result(timeout=60).text == expected[2].text
        assert doomed.cancelled()
        again = scheduler.submit(reqs[3])
        assert again.result(timeout=60).text == expected[3].text


def test_a_request_arriving_mid_flight_joins_the_running_call_when_its_adapter_can(
    adapter_dirs, make_requests
) -> None:  # type: ignore[no-untyped-def]
    """A request that arrives while a long one decodes joins that call at the next free row and
    finishes first, with the text it has alone; one for another adapter waits for the next call, and
    so does everything queued behind it (first come, first served)."""
    from groundtune.infer import Engine

    engine = Engine.load("tiny-random-gemma3", dtype="float32", batch_size=4)
    engine.load_adapter("alpha", adapter_dirs["alpha"])
    long = make_requests(max_new_tokens=40, stop=["never"])[2]
    short = make_requests(max_new_tokens=3, stop=["never"])[1]
    other = make_requests(adapter="alpha", max_new_tokens=3, stop=["never"])[0]
    expected = {"short": engine.generate([short])[0].text, "other": engine.generate([other])[0].text}
    with BatchScheduler(engine, gather_s=0.0) as scheduler:
        stream = scheduler.stream(long, timeout_s=60)
        deltas = iter(stream)
        next(deltas)  # the long request is decoding
        joined = scheduler.submit(short)
        assert joined.result(timeout=60).text == expected["short"]
        assert scheduler.batches == [2]  # it joined the running call
        waiting = scheduler.submit(other)
        behind = scheduler.submit(short)
        rest = "".join(deltas)
        assert stream.result is not None and stream.result.completion_tokens == 40 and rest
        assert waiting.result(timeout=60).text == expected["other"]
        assert behind.result(timeout=60).text == expected["short"]
        assert scheduler.batches[0] == 2 and sum(scheduler.batches) == 4
