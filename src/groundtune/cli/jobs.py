"""`groundtune jobs list | show | events | cancel | worker`: a thin table over the platform store of
this workspace (or `--db URL`), in-process, or over a server's `/v1/jobs` with `--server`. A cancel is recorded in the store; the runner that runs the
job stops its worker. `worker` runs jobs on this machine: a local runner, or a procrastinate worker."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

import typer
from rich.markup import escape
from rich.table import Column, Table

from groundtune.cli import remote
from groundtune.cli.app import console, handle_errors

app = typer.Typer(
    help="Platform jobs: list them, show one, read its events, cancel it.", no_args_is_help=True
)

_DB_HELP = "Platform store URL (default $GROUNDTUNE_PLATFORM_DB, else platform.db in the workspace)."


def _store(db: str | None) -> Any:
    from groundtune.core.workspace import get_workspace
    from groundtune.platform.store import DB_ENV, Store

    return Store(db or os.environ.get(DB_ENV), home=get_workspace().home)


def _when(ts: int | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


@app.command("list")
@handle_errors
def list_cmd(
    kind: str | None = typer.Option(None, help="Only this kind (ingestion, dataset, fine_tuning, ...)."),
    state: str | None = typer.Option(None, help="Only jobs in this state (queued, running, ...)."),
    limit: int = typer.Option(20, min=1, max=100, help="Jobs per page."),
    after: str | None = typer.Option(None, help="Page after this job id (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print the page as JSON."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Jobs, newest first."""
    if remote.server():
        page = _list_remote(kind, state, after, limit)
    else:
        with _store(db) as store:
            page = store.list_jobs(kind=kind, state=state, after=after, limit=limit)  # type: ignore[arg-type]
    if as_json:
        console.print_json(page.model_dump_json())
        return
    table = Table(Column("id", no_wrap=True), "kind", "state", "attempts", "created", "finished", "resource")
    for job in page.data:
        table.add_row(
            job.id, job.kind, job.state, str(job.attempts), _when(job.created_at), _when(job.finished_at),
            escape(job.resource or "-"),
        )  # fmt: skip
    console.print(table)
    if page.has_more:
        console.print(f"more: groundtune jobs list --after {page.last_id}")


def _list_remote(kind: str | None, state: str | None, after: str | None, limit: int) -> Any:
    """A page of the server's jobs; `state` is filtered here (the API pages by kind only)."""
    from groundtune.core.artifacts import Job, Page

    pages = remote.client().jobs.list(kind=kind, after=after, limit=limit).iter_pages()
    found: list[Job] = []
    more = False
    for page in pages:
        found += [j for j in page.data if state is None or j.state == state]
        more = page.has_more
        if len(found) >= limit or state is None:
            break
    more = more or len(found) > limit
    found = found[:limit]
    return Page[Job](
        data=found,
        has_more=more,
        first_id=found[0].id if found else None,
        last_id=found[-1].id if found else None,
    )


@app.command("show")
@handle_errors
def show_cmd(
    job_id: str = typer.Argument(..., help="Job id (job_…)."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """One job as JSON: state, config, attempts, error or result."""
    if remote.server():
        console.print_json(remote.client().jobs.retrieve(job_id).model_dump_json())
        return
    with _store(db) as store:
        console.print_json(store.get_job(job_id).model_dump_json())


@app.command("events")
@handle_errors
def events_cmd(
    job_id: str = typer.Argument(..., help="Job id (job_…)."),
    after: int | None = typer.Option(None, help="Only events after this event id."),
    limit: int = typer.Option(100, min=1, max=100, help="Events to show (without --follow)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events until the job ends."),
    as_json: bool = typer.Option(False, "--json", help="One JSON event per line."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """A job's events, oldest first: state changes, messages, progress with metrics."""
    if remote.server():
        client = remote.client()
        if follow:
            for event in client.jobs.stream_events(job_id, after=after):
                _print_event(event, as_json)
            return
        page = client.jobs.list_events(job_id, after=after, limit=limit)
        for event in page.data:
            _print_event(event, as_json)
        if page.has_more and not as_json:
            console.print(f"more: groundtune jobs events {job_id} --after {page.last_id}")
        return
    with _store(db) as store:
        if follow:
            for event in store.follow_events(job_id, after=after):
                _print_event(event, as_json)
            return
        page = store.list_events(job_id, after=after, limit=limit)
        for event in page.data:
            _print_event(event, as_json)
    if page.has_more and not as_json:
        console.print(f"more: groundtune jobs events {job_id} --after {page.last_id}")


def _print_event(event: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(event.model_dump(mode="json")), flush=True)
        return
    color = {"error": "red", "warning": "yellow"}.get(event.level, "default")
    extra = ""
    metrics = event.data.get("metrics") if event.type == "progress" else None
    if metrics:
        shown = {k: metrics[k] for k in ("lr", "tokens_per_s", "eta_s") if metrics.get(k) is not None}
        extra = "  " + " ".join(f"{k}={v:.4g}" for k, v in shown.items())
    console.print(
        f"{event.id:>6} {_when(event.created_at)} [{color}]{event.type:<8} {escape(event.message)}[/]{escape(extra)}"
    )


@app.command("cancel")
@handle_errors
def cancel_cmd(
    job_id: str = typer.Argument(..., help="Job id (job_…)."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Cancel a job: a queued one at once; a running one stops at its next step (training keeps its
    last checkpoint)."""
    if remote.server():
        job = remote.client().jobs.cancel(job_id)
    else:
        with _store(db) as store:
            job = store.request_cancel(job_id)
    console.print(f"{job.id}: {job.state}")


@app.command("worker")
@handle_errors
def worker_cmd(
    engine: str = typer.Option(
        "local",
        help="local: claim and run jobs here; procrastinate: run the jobs "
        "a server with --engine procrastinate queues (PostgreSQL store).",
    ),
    concurrency: int = typer.Option(1, min=1, help="Jobs run at once."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Run jobs on this machine until Ctrl+C (beside a server, or alone on a shared PostgreSQL store
    and workspace folder)."""
    import signal
    import threading

    from groundtune.core.workspace import get_workspace

    home = get_workspace().home
    with _store(db) as store:
        console.print(f"{engine} worker on {store.url.split('@')[-1]}, workspace {home}; Ctrl+C stops")
        if engine == "procrastinate":
            from groundtune.platform.jobs.procrastinate_engine import run_worker

            run_worker(store, home, concurrency=concurrency)
            return
        from groundtune.platform.jobs.runner import make_runner

        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        runner = make_runner(engine, store, home, max_workers=concurrency)
        runner.start()
        try:
            while not stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            runner.stop()
