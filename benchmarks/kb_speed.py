"""Knowledge-base speed: ingest throughput and hybrid query latency in Qdrant local mode.

1. Ingest records of ~240 MiniLM tokens (one ~256-token chunk each) with the real `minilm-l6`
   embedder: chunks/s and the embedder's share of the time (300 by default: MiniLM runs at a few
   chunks/s on this shared CPU); the KB is then topped up to 2,655 chunks with random vectors.
2. Hybrid query latency (p50/p95, one query per call, query embedding included) on that KB, through
   groundtune's local-mode mirror and, as the named baseline, through Qdrant's own local scorer.
3. The same at 100,000+ chunks: a synthetic corpus written through the real write path (catalog,
   BM25 statistics, Qdrant local upserts) with random unit vectors in place of MiniLM embeddings
   (embedding 100k chunks would take hours on this CPU); queries are embedded by MiniLM.

The text is generated here (pseudo-words with Zipf frequencies), so no dataset is needed.

    .venv/bin/python benchmarks/kb_speed.py            # writes benchmarks/results/kb_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "kb_speed.json"


def vocabulary(n: int, rng: np.random.Generator) -> list[str]:
    sy = [
        "ka",
        "lo",
        "mi",
        "ne",
        "ru",
        "ta",
        "ve",
        "so",
        "di",
        "pa",
        "gu",
        "ze",
        "hor",
        "lin",
        "mar",
        "tes",
        "bi",
        "fo",
        "qua",
        "rel",
        "sti",
        "won",
        "ex",
        "um",
        "ar",
        "il",
        "don",
        "pre",
        "cu",
        "yo",
    ]  # 27,900 words
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(sy, size=int(rng.integers(2, 4)))))
    return sorted(words)


class TextGen:
    def __init__(self, seed: int = 0, vocab: int = 8000) -> None:
        self.rng = np.random.default_rng(seed)
        self.words = vocabulary(vocab, self.rng)
        p = 1.0 / np.arange(1, vocab + 1) ** 1.07
        self.p = p / p.sum()

    def sentence(self, lo: int = 8, hi: int = 20) -> str:
        n = int(self.rng.integers(lo, hi))
        return " ".join(self.rng.choice(self.words, size=n, p=self.p)).capitalize() + "."

    def passage(self, n_words: int) -> str:
        out, total = [], 0
        while total < n_words:
            s = self.sentence()
            out.append(s)
            total += s.count(" ") + 1
        return " ".join(out)


def percentiles(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {
        "p50_ms": round(1000 * statistics.median(xs), 2),
        "p95_ms": round(1000 * xs[min(len(xs) - 1, int(0.95 * len(xs)))], 2),
        "n": len(xs),
    }


def latency(kb, queries: list[str], mirror: bool) -> dict[str, float]:
    from groundtune.kb import RetrieverConfig

    r = kb.retriever(RetrieverConfig(mode="hybrid", k=10))
    saved = kb.index._mirror
    if not mirror:
        kb.index._mirror = None
    emb = kb.embedder
    encode, spent = emb.encode, [0.0]

    def timed(texts, *a, **kw):
        t = time.perf_counter()
        try:
            return encode(texts, *a, **kw)
        finally:
            spent[0] += time.perf_counter() - t

    try:
        r.search(queries[0])  # warm-up (mirror build, caches)
        emb.encode = timed
        times, search_only = [], []
        for q in queries:
            spent[0] = 0.0
            t = time.perf_counter()
            r.search(q)
            times.append(time.perf_counter() - t)
            search_only.append(times[-1] - spent[0])
    finally:
        kb.index._mirror = saved
        emb.encode = encode
    out = percentiles(times)
    rest = percentiles(search_only)
    out["without_query_embedding_p50_ms"], out["without_query_embedding_p95_ms"] = (
        rest["p50_ms"],
        rest["p95_ms"],
    )
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _fast_local_writes(kb) -> None:
    # qdrant-client's local persistence commits (and fsyncs) every point in its own SQLite transaction,
    # ~13 ms per point on this disk: 100k points would take ~25 min. For the synthetic corpora only, let
    # that SQLite connection skip fsync and the rollback journal (search speed, measured here, is unaffected).
    storage = kb.index.client._client.collections[kb.settings.collection].storage.storage
    storage.execute("PRAGMA synchronous=OFF")
    storage.execute("PRAGMA journal_mode=MEMORY")


def ingest_small(home: str, n_chunks: int, gen: TextGen, n_total: int) -> tuple[object, dict[str, float]]:
    from groundtune import kb as kbmod
    from groundtune.models import load_embedder

    tok = load_embedder("minilm-l6")
    records = []
    for i in range(n_chunks):
        text = gen.passage(60)
        while len(tok.tokenizer(text, add_special_tokens=False)["input_ids"]) < 230:
            text += " " + gen.sentence()
        ids = tok.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        text = text[: ids[min(len(ids), 250) - 1][1]]
        records.append({"id": f"r{i}", "title": f"Record {i}", "text": text})
    kbmod.create("speed", embedder="minilm-l6", chunk_tokens=256, chunk_overlap=32, home=home)
    kb = kbmod.open_kb("speed", home=home)
    emb = kb.embedder
    spent = [0.0]
    encode = emb.encode

    def timed(texts, *a, **kw):
        t = time.perf_counter()
        try:
            return encode(texts, *a, **kw)
        finally:
            spent[0] += time.perf_counter() - t

    emb.encode = timed
    t0 = time.perf_counter()
    summary = kb.add(records)
    total = time.perf_counter() - t0
    emb.encode = encode
    tokens = [c.n_tokens for c in kb.chunks()]
    if n_total > n_chunks:  # top up to the latency-test size with random vectors (see module docstring)
        _fast_local_writes(kb)
        rng = np.random.default_rng(2)
        kb._embed = lambda texts, progress=None: _unit(rng.standard_normal((len(texts), kb.settings.dim)))
        kb.add(
            [
                {"id": f"f{i}", "title": f"Fill {i}", "text": gen.passage(70)}
                for i in range(n_total - n_chunks)
            ]
        )
    return kb, {
        "chunks": summary.chunks,
        "mean_chunk_tokens": round(float(np.mean(tokens)), 1),
        "seconds": round(total, 2),
        "chunks_per_s": round(summary.chunks / total, 2),
        "embedder_seconds": round(spent[0], 2),
        "embedder_share": round(spent[0] / total, 3),
        "non_embedder_chunks_per_s": round(summary.chunks / max(total - spent[0], 1e-9), 1),
    }


def ingest_large(home: str, n_chunks: int, gen: TextGen) -> tuple[object, dict[str, float]]:
    from groundtune import kb as kbmod

    kbmod.create("speed-large", embedder="minilm-l6", chunk_tokens=256, chunk_overlap=32, home=home)
    kb = kbmod.open_kb("speed-large", home=home)
    rng = np.random.default_rng(1)

    def random_vectors(texts, progress=None):  # stands in for MiniLM: embedding 100k chunks takes hours here
        v = rng.standard_normal((len(texts), kb.settings.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    kb._embed = random_vectors
    _fast_local_writes(kb)
    t0 = time.perf_counter()
    batch = 10000
    for start in range(0, n_chunks, batch):
        recs = [
            {"id": f"s{i}", "title": f"S{i}", "text": gen.passage(70)}
            for i in range(start, min(n_chunks, start + batch))
        ]
        kb.add(recs)
        print(
            f"  large corpus: {min(n_chunks, start + batch)}/{n_chunks} ({time.perf_counter() - t0:.0f}s)",
            flush=True,
        )
    total = time.perf_counter() - t0
    n = kb.index.count()
    return kb, {
        "chunks": n,
        "seconds": round(total, 1),
        "chunks_per_s_without_embedder": round(n / total, 1),
        "note": "random unit vectors instead of MiniLM; qdrant local persistence with synchronous=OFF, journal_mode=MEMORY",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--embed", type=int, default=300, help="Chunks ingested with the real MiniLM (throughput)."
    )
    ap.add_argument("--small", type=int, default=2655)
    ap.add_argument("--large", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--baseline-queries-large", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gen = TextGen(0)
    queries = [" ".join(gen.sentence(5, 10).rstrip(".").split()) for _ in range(args.queries)]
    result: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "mode": "qdrant local mode",
        "embedder": "minilm-l6",
    }
    with tempfile.TemporaryDirectory() as home:
        print(f"ingesting {args.embed} chunks with minilm-l6, {args.small} in all ...", flush=True)
        kb, ingest = ingest_small(home, args.embed, gen, args.small)
        result["ingest"] = ingest
        print(json.dumps(ingest), flush=True)
        result["query_small"] = {
            "chunks": kb.index.count(),
            "mirror": latency(kb, queries, mirror=True),
            "baseline_qdrant_local_scorer": latency(kb, queries[:50], mirror=False),
        }
        kb.close()
        print(json.dumps(result["query_small"]), flush=True)
        if args.large:
            print(f"writing {args.large} synthetic chunks ...", flush=True)
            big, info = ingest_large(home, args.large, TextGen(1))
            big._embedder = None  # queries are embedded by the real MiniLM
            t = time.perf_counter()
            big.close()
            from groundtune import kb as kbmod

            big = kbmod.open_kb("speed-large", home=home)
            info["reopen_seconds"] = round(time.perf_counter() - t, 1)
            result["ingest_large"] = info
            result["query_large"] = {
                "chunks": info["chunks"],
                "mirror": latency(big, queries, mirror=True),
                "baseline_qdrant_local_scorer": latency(
                    big, queries[: args.baseline_queries_large], mirror=False
                ),
            }
            big.close()
            print(json.dumps(result["query_large"]), flush=True)
    for key in ("query_small", "query_large"):
        q = result.get(key)
        if isinstance(q, dict):
            q["speedup_p50_vs_baseline"] = round(
                q["baseline_qdrant_local_scorer"]["p50_ms"] / q["mirror"]["p50_ms"], 1
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
