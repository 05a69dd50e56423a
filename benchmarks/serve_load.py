"""Load test of `groundtune serve` on this CPU: Gemma 3 270M with a LoRA adapter behind a real server.

Measures, in one run against one server process:
  * single-request latency p50/p95 (one client, sequential);
  * throughput with 8 concurrent clients against the sequential baseline (batching gain, bar >= 1.5x);
  * 200 requests from 16 concurrent clients: zero 5xx, every request answered (200) or refused (429).
Writes benchmarks/results/serve_load.json.  Usage: .venv/bin/python benchmarks/serve_load.py [--adapter PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from train_throughput import cpu_model  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "How long is the warranty on the Zephyr kettle?",
    "How often should the kettle be descaled?",
    "What voltage does the base station need?",
    "Which cleaning agent is recommended?",
    "How much water does the kettle hold?",
    "Can the lid be replaced?",
    "What does the red light mean?",
    "Is the handle heat resistant?",
]
DOCS = [
    {
        "title": "Warranty",
        "text": "The Zephyr kettle carries a warranty of 24 months from the date of purchase. "
        "The warranty covers the heating element and the base station but not limescale damage.",
    },
    {
        "title": "Care",
        "text": "Descale the kettle every six weeks with citric acid. Rinse twice before boiling again. "
        "Never use vinegar, which attacks the seals.",
    },
    {
        "title": "Specifications",
        "text": "Capacity 1.7 litres. The base station needs 220 to 240 volts. "
        "The handle stays below 40 degrees during boiling.",
    },
    {
        "title": "Indicator lights",
        "text": "A red light means the kettle is boiling; a blinking red light means it "
        "was switched on empty and the safety cut-out tripped.",
    },
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_adapter(folder: Path) -> Path:
    """A LoRA adapter (r=16, all linear projections) for Gemma 3 270M, in PEFT's layout."""
    from peft import LoraConfig, get_peft_model

    from groundtune.models import load_lm

    lm = load_lm("gemma-3-270m")
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(lm.model, LoraConfig(r=16, lora_alpha=32, target_modules=targets))
    model.save_pretrained(folder)
    return folder


def request(client: httpx.Client, url: str, i: int, max_tokens: int) -> tuple[int, float]:
    body = {
        "model": "tuned",
        "messages": [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
        "documents": DOCS,
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    start = time.perf_counter()
    r = client.post(f"{url}/v1/chat/completions", json=body, timeout=600)
    return r.status_code, time.perf_counter() - start


def run_clients(url: str, n: int, clients: int, max_tokens: int) -> tuple[list[int], list[float], float]:
    start = time.perf_counter()
    with httpx.Client() as client, ThreadPoolExecutor(clients) as pool:
        out = list(pool.map(lambda i: request(client, url, i, max_tokens), range(n)))
    return [c for c, _ in out], [t for _, t in out], time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--adapter", type=Path, help="adapter folder (default: a fresh r=16 LoRA)")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--sequential", type=int, default=8, help="requests in the single-client baseline")
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serve_load.json")
    args = parser.parse_args()

    adapter = args.adapter or make_adapter(Path(tempfile.mkdtemp(prefix="gt-bench-")) / "tuned")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "groundtune"),
            "serve",
            "--adapter",
            f"tuned={adapter}",
            "--port",
            str(port),
            "--max-batch",
            "8",
            "--max-queue",
            "32",
            "--timeout",
            "600",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(1)
        run_clients(url, 2, 1, args.max_tokens)  # warm-up
        codes, latencies, seq_wall = run_clients(url, args.sequential, 1, args.max_tokens)
        assert set(codes) == {200}, codes
        conc_codes, conc_lat, conc_wall = run_clients(url, args.sequential * 2, 8, args.max_tokens)
        assert set(conc_codes) == {200}, conc_codes
        burst_codes, _, burst_wall = run_clients(url, args.burst, 16, args.max_tokens)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    seq_rps = args.sequential / seq_wall
    conc_rps = args.sequential * 2 / conc_wall
    result = {
        "benchmark": "serve_load",
        "model": "gemma-3-270m",
        "adapter": str(args.adapter) if args.adapter else "a fresh LoRA, r=16 on all linear projections",
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu_model(),
        "max_tokens": args.max_tokens,
        "cpu_threads": os.cpu_count(),
        "single_request_latency_s": {
            "p50": statistics.median(latencies),
            "p95": pct(latencies, 0.95),
            "n": len(latencies),
        },
        "baseline_sequential_rps": seq_rps,
        "concurrent_8_clients_rps": conc_rps,
        "concurrent_8_latency_s": {"p50": statistics.median(conc_lat), "p95": pct(conc_lat, 0.95)},
        "batching_speedup": conc_rps / seq_rps,
        "bar_batching_speedup_at_least": 1.5,
        "burst": {
            "requests": args.burst,
            "clients": 16,
            "wall_s": burst_wall,
            "answered_200": burst_codes.count(200),
            "refused_429": burst_codes.count(429),
            "server_errors_5xx": sum(c >= 500 for c in burst_codes),
            "other": sum(c not in (200, 429) and c < 500 for c in burst_codes),
        },
    }
    result["passed"] = bool(
        result["batching_speedup"] >= 1.5
        and result["burst"]["server_errors_5xx"] == 0
        and result["burst"]["other"] == 0
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
