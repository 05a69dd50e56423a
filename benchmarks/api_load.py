"""The platform API under load while a fine-tuning job runs: 200 requests from 16 clients.

A real `groundtune server` stack (uvicorn + LocalRunner + SQLite store, or PostgreSQL with --db) on a
free loopback port. Over HTTP only: a knowledge base from examples/sample_kb, a dataset, then the same
fine-tuning job twice — once alone (the reference loss curve) and once while 16 client threads send
200 requests (reads of every resource, KB searches, QA file uploads and job creates + cancels). Reported:
5xx count (must be 0), status codes, p50/p95 latency of the read endpoints, and the second run's loss
curve against the first (training runs in its own process; load must change its timing, never its numbers).

    .venv/bin/python benchmarks/api_load.py                          # Gemma 3 270M, MiniLM
    .venv/bin/python benchmarks/api_load.py --model tiny-random-gemma3 --embedder tiny-random-minilm --steps 4
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample_kb"
RESULTS = ROOT / "benchmarks" / "results" / "api_load.json"
TERMINAL = {"succeeded", "failed", "cancelled"}


def start_server(home: Path, db: str | None) -> tuple[Any, Any, Any, str]:
    import socket

    import uvicorn

    from groundtune.platform.api import create_platform_app
    from groundtune.platform.jobs.runner import LocalRunner
    from groundtune.platform.store import Store

    store = Store(db, home=home)
    runner = LocalRunner(store, home, max_workers=1)
    app = create_platform_app(store, runner, home=home, api_keys_required=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, runner, store, f"http://127.0.0.1:{port}"


def wait(api: httpx.Client, job_id: str, timeout: float = 7200) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in TERMINAL:
            return job
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} still {job['state']} after {timeout}s")
        time.sleep(0.5)


def loss_curve(api: httpx.Client, job_id: str) -> dict[int, float]:
    """step -> training loss, from the job's progress events (paged with `after`)."""
    curve: dict[int, float] = {}
    after = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"after": after} if after is not None else {})}
        page = api.get(f"/v1/fine_tuning/jobs/{job_id}/events", params=params).json()
        for e in page["data"]:
            metrics = e["data"].get("metrics") or {}
            if e["type"] == "progress" and "loss" in metrics:
                curve[int(e["data"]["done"])] = float(metrics["loss"])
        if not page["has_more"]:
            return curve
        after = page["last_id"]


def prepare(api: httpx.Client, args: argparse.Namespace) -> None:
    r = api.post("/v1/knowledge_bases", json={"name": "sample", "embedder": args.embedder})
    r.raise_for_status()
    docs = sorted(f for f in (SAMPLE / "docs").iterdir() if f.is_file())
    up = api.post(
        "/v1/knowledge_bases/sample/documents", files=[("files", (f.name, f.read_bytes())) for f in docs]
    )
    up.raise_for_status()
    assert wait(api, up.json()["id"])["state"] == "succeeded"
    qa = api.post("/v1/files", files={"file": ("qa_train.jsonl", (SAMPLE / "qa_train.jsonl").read_bytes())})
    qa.raise_for_status()
    build = {
        "name": "sample",
        "kb": "sample",
        "lm": args.model,
        "sources": [{"kind": "qa", "path": qa.json()["id"], "limit": args.questions}],
        "splits": {"train": 0.9, "validation": 0.1},
    }
    job = api.post("/v1/datasets", json=build).json()
    done = wait(api, job["id"])
    assert done["state"] == "succeeded", done


def train_config(args: argparse.Namespace, name: str) -> dict[str, Any]:
    return {
        "dataset": "sample",
        "model": args.model,
        "name": name,
        "max_steps": args.steps,
        "batch_size": 2,
        "grad_accum": 1,
        "seed": 0,
        "eval_every": 10_000,
        "save_every": 10_000,
        "num_threads": args.train_threads,
    }


def load(url: str, job_id: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """`args.requests` requests from `args.clients` threads while job `job_id` trains."""
    rng = random.Random(0)
    reads = [
        ("GET", "/v1/jobs", None),
        ("GET", f"/v1/jobs/{job_id}", None),
        ("GET", f"/v1/fine_tuning/jobs/{job_id}", None),
        ("GET", f"/v1/fine_tuning/jobs/{job_id}/events?limit=50", None),
        ("GET", "/v1/fine_tuning/jobs", None),
        ("GET", "/v1/knowledge_bases", None),
        ("GET", "/v1/knowledge_bases/sample/documents", None),
        ("GET", "/v1/datasets/sample", None),
        ("GET", "/v1/datasets/sample/examples?limit=5", None),
        ("GET", "/v1/adapters", None),
        ("GET", "/v1/evaluations", None),
        ("GET", "/v1/deployments", None),
    ]
    writes = [
        ("POST", "/v1/knowledge_bases/sample/search", {"query": "When does the first train leave?"}),
        ("POST", "/v1/files", "qa"),
        ("POST", "/v1/calibrations", "cancelled-job"),
    ]
    plan = [rng.choice(reads) if rng.random() < 0.85 else rng.choice(writes) for _ in range(args.requests)]
    qa = (SAMPLE / "qa_train.jsonl").read_bytes()
    local = threading.local()

    def timed(method: str, path: str, **kw: Any) -> tuple[httpx.Response, dict[str, Any]]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=300)
        t = time.perf_counter()
        r = local.client.request(method, path, **kw)
        return r, {
            "method": method,
            "path": path,
            "status": r.status_code,
            "seconds": time.perf_counter() - t,
        }

    def one(item: tuple[str, str, Any]) -> list[dict[str, Any]]:
        method, path, body = item
        if body == "qa":
            return [timed(method, path, files={"file": ("qa.jsonl", qa)})[1]]
        if body == "cancelled-job":  # a job queued behind the training one (one worker), then cancelled
            r, row = timed(method, path, json={"adapter": "alone", "dataset": "sample"})
            rows = [row]
            if r.status_code == 200:
                rows.append(timed("POST", f"/v1/jobs/{r.json()['id']}/cancel")[1])
            return rows
        if method == "POST":
            return [timed(method, path, json=body)[1]]
        return [timed(method, path)[1]]

    with ThreadPoolExecutor(args.clients) as pool:
        return [row for rows in pool.map(one, plan) for row in rows]


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--embedder", default="minilm-l6")
    parser.add_argument("--steps", type=int, default=20, help="Training steps of each fine-tuning job.")
    parser.add_argument("--questions", type=int, default=120, help="QA pairs the dataset is built from.")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--train-threads", type=int, default=None, help="torch threads of the training worker."
    )
    parser.add_argument("--db", default=None, help="Store URL (default: SQLite in the workspace).")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="gt-api-load-"))
    cached = Path(os.environ.get("GROUNDTUNE_HOME") or Path.home() / ".groundtune") / "models"
    if cached.is_dir():  # reuse the converted Gemma weights instead of converting them again
        (home / "models").symlink_to(cached, target_is_directory=True)
    os.environ["GROUNDTUNE_HOME"] = str(home)  # the worker processes inherit it
    server, runner, store, url = start_server(home, args.db)
    api = httpx.Client(base_url=url, timeout=600)
    try:
        t0 = time.perf_counter()
        prepare(api, args)
        setup_s = time.perf_counter() - t0

        alone = api.post("/v1/fine_tuning/jobs", json=train_config(args, "alone")).json()
        t = time.perf_counter()
        alone_job = wait(api, alone["id"])
        alone_s = time.perf_counter() - t
        assert alone_job["state"] == "succeeded", alone_job

        loaded = api.post("/v1/fine_tuning/jobs", json=train_config(args, "under-load")).json()
        while api.get(f"/v1/jobs/{loaded['id']}").json()["state"] in ("validating_files", "queued"):
            time.sleep(0.2)
        t = time.perf_counter()
        results = load(url, loaded["id"], args)
        load_s = time.perf_counter() - t
        state_after_load = api.get(f"/v1/jobs/{loaded['id']}").json()["state"]
        loaded_job = wait(api, loaded["id"])
        loaded_s = time.perf_counter() - t
        assert loaded_job["state"] == "succeeded", loaded_job

        a, b = loss_curve(api, alone["id"]), loss_curve(api, loaded["id"])
        common = sorted(set(a) & set(b))
        diffs = [abs(a[s] - b[s]) for s in common]
        reads = [r["seconds"] for r in results if r["method"] == "GET"]
        by_path: dict[str, list[float]] = {}
        for r in results:
            by_path.setdefault(f"{r['method']} {r['path'].split('?')[0]}", []).append(r["seconds"])
        out = {
            "benchmark": "api_load",
            "model": args.model,
            "embedder": args.embedder,
            "store": "postgresql" if args.db else "sqlite",
            "machine": {"cpus": os.cpu_count(), "python": host.python_version()},
            "requests": len(results),
            "clients": args.clients,
            "status_codes": dict(Counter(str(r["status"]) for r in results)),
            "server_errors_5xx": sum(r["status"] >= 500 for r in results),
            "job_state_when_load_ended": state_after_load,
            "read_latency_s": {
                "n": len(reads),
                "p50": statistics.median(reads) if reads else None,
                "p95": p95(reads),
                "max": max(reads) if reads else None,
            },
            "p95_by_route_s": {k: p95(v) for k, v in sorted(by_path.items())},
            "load_seconds": round(load_s, 2),
            "training": {
                "steps": args.steps,
                "alone_s": round(alone_s, 2),
                "under_load_s": round(loaded_s, 2),
                "loss_alone": [a[s] for s in sorted(a)],
                "loss_under_load": [b[s] for s in sorted(b)],
                "steps_compared": len(common),
                "max_abs_loss_diff": max(diffs) if diffs else None,
                "curves_equal": bool(common) and len(a) == len(b) and max(diffs) <= 1e-6,
            },
            "setup_s": round(setup_s, 2),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n")
        print(
            json.dumps({k: out[k] for k in ("status_codes", "server_errors_5xx", "read_latency_s")}, indent=2)
        )
        print(
            f"loss curves equal: {out['training']['curves_equal']} (max diff {out['training']['max_abs_loss_diff']})"
        )
        print(f"wrote {args.out}")
    finally:
        api.close()
        server.should_exit = True
        time.sleep(1)
        runner.stop(wait=True, timeout=60)
        store.close()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
