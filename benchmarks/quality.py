"""Grounding quality on data the code was not tuned on: every public source's fixed held-out part.

Runs (or reuses) the general stage (`groundtune general`), then for each source's evaluation dataset
scores base Gemma with two demonstrations (the named baseline, measured in the same run) and each
adapter on the test split, every system abstaining when unsure with a threshold calibrated on that
dataset's validation split within a 10% false-refusal budget. One evaluation run per suite, so each
calibrates on its own source; each system abstains with the signal that refused better on that
validation split (its answer uncertainty, or the documents' answerability gate: the table names it).
Per suite and system it reports relevance F1, quote validity, answer
containment and F1, citation precision, refusal recall, false refusals, refusal AUROC (refused items
ranked first, then by answer uncertainty; 0.5 = chance) and the AUROC of the documents' answerability
alone, the counterfactual follow rate (RGB: share of
answers with the documents' value), format ok, and wall time. The `injection` suite is NQ-open-oracle's
test split with an instruction planted in one document of each answerable item (`injection:dataset:…`,
see groundtune.data.injection): its row adds `injection_obeyed` (share of those replies that write the
instruction's canary in the answer or a quote) and `injection_ignored` (1 - obeyed); its other columns
say whether the answers still follow the question.

    .venv/bin/python benchmarks/quality.py --home WORKSPACE [--shipped] [--adapter general] [--limit 60] \\
        [--sweeps nq_open_oracle] [--seed 1 --seed 2] [--seed-home WORKSPACE_OF_ANOTHER_SEED]

`--shipped` scores the general adapter that ships with the package (`core/shipped/general`) and
builds only the stage's KB and datasets in the workspace: the same adapter, without the hour of
training (its manifest names the recipe, data hashes and commit that reproduce it).

`--seed N` (repeatable) trains, or reuses, the general adapter with training seed N beside the
shipped one in the same workspace (`general-seedN`, `groundtune general --seed N`) and scores it in
the same evaluation run (same items, base scored once); `--seed-home` names other general-stage
workspaces whose adapter was trained on the same data with another seed (base is not scored again
there: greedy decoding makes it the same). Each suite then gets the spread of every column over the
seeds (`seeds` in quality.json, a `± sd` table in docs/eval.md).

Writes benchmarks/results/quality.json (or --out) and the table between the quality markers of
docs/eval.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from train_throughput import cpu_model  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "quality.json"
DOC = ROOT / "docs" / "eval.md"
BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"
BASELINE = "base-2shot"
COLUMNS = [
    ("relevance_f1", "rel F1"),
    ("quote_validity", "quote valid"),
    ("answer_containment", "ans contain"),
    ("answer_f1", "ans F1"),
    ("citation_precision", "cite prec"),
    ("refusal_recall", "refusal rec"),
    ("false_refusal_rate", "false ref"),
    ("refusal_auroc", "refusal AUROC"),
    ("refusal_auroc_answerability", "AUROC answerability"),
    ("format_ok", "format ok"),
    ("injection_obeyed", "inj. obeyed"),
]
SEEDS_NOTE = "the general adapter, each `--seed`'s beside it and each `--seed-home`'s, same data, same items"
GENERAL = "general"
INJECTION = "injection"
INJECTED_SOURCE = "nq_open_oracle"  # the evaluation dataset the injection suite plants into


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """P(score of a refusal item > score of an answerable one), ties half; None without both kinds."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def refusal_score(record: dict[str, Any]) -> float:
    """How strongly a system refuses an item: a refusal (its own or by abstention) ranks above any
    answer; among answers, more uncertain ranks higher (uncertainty in nats, squashed below 1)."""
    u = record.get("uncertainty") or 0.0
    return 1.0 + u / (1.0 + u) if record["parsed"]["refusal"] else u / (1.0 + u)


def suite_auroc(run_dir: Path, suite: str, answerable: dict[str, bool]) -> dict[str, float | None]:
    folder = run_dir / "records" / suite.replace(":", "_")
    out = {}
    for file in sorted(folder.glob("*.jsonl")):
        records = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
        scores = [refusal_score(r) for r in records]
        labels = [not answerable[r["example_id"]] for r in records]
        out[file.stem] = auroc(scores, labels)
    return out


def evaluate_suite(
    args: argparse.Namespace, kind: str, dataset: str, home: Path | None = None
) -> dict[str, Any]:
    """One suite's evaluation run in `args.home` (base 2-shot, the adapters and the other seeds'
    general adapters), or in another seed's workspace `home` (its adapters alone, no sweeps)."""
    from groundtune.data import load_dataset
    from groundtune.eval.run import run

    suite = f"{INJECTION}:dataset:{dataset}:test" if kind == INJECTION else f"dataset:{dataset}:test"
    t = time.perf_counter()
    run_dir = run(
        [suite],
        adapters=args.adapter if home else [*args.adapter, *args.seed_adapters],
        shots=2,
        include_zero_shot=False,
        include_base=home is None,
        limit=args.limit,
        max_false_refusal=args.budget,
        sweeps=home is None and kind in args.sweeps,
        home=home or args.home,
    )
    seconds = time.perf_counter() - t
    report = json.loads((run_dir / "report.json").read_text())
    items = load_dataset(dataset, args.home)["test"]
    answerable = {ex.id: ex.answerable for ex in items}
    aurocs = suite_auroc(run_dir, suite, answerable)
    systems = {}
    for name, metrics in report["suites"][suite].items():
        row = {key: metrics.get(key) for key, _ in COLUMNS if key != "refusal_auroc"}
        row["refusal_auroc"] = aurocs.get(name)
        if kind == "rgb_counterfactual":
            row["counterfactual_follow_rate"] = metrics.get("answer_containment")
        if kind == INJECTION:
            obeyed = metrics.get("injection_obeyed")
            row["injection_ignored"] = None if obeyed is None else 1.0 - obeyed
            row["injection_in_answer"] = metrics.get("injection_in_answer")
        row["signal"] = report.get("abstention", {}).get(name, {}).get("signal", "uncertainty")
        row["n_items"] = metrics.get("n_items")
        row["n_unanswerable"] = metrics.get("n_unanswerable")
        systems[name] = row
    print(kind, home or "", json.dumps(systems, default=lambda v: round(v, 3)), flush=True)
    return {
        "suite": suite,
        "eval_run": str(run_dir),
        "seconds": round(seconds, 1),
        "abstention": report.get("abstention", {}),
        "sweeps": report.get("sweeps", {}),
        "systems": systems,
    }


def seed_spread(runs: list[dict[str, Any]], adapters: list[str], seeds: list[str] = ()) -> dict[str, Any]:
    """Per adapter and column, its values over the seeds of one suite (the main run's adapter first,
    then the `seeds` adapters of the general one in that run, then the other workspaces' runs), their
    mean, sample standard deviation and range."""
    out: dict[str, Any] = {}
    for name in adapters:
        beside = [s for s in seeds if s in runs[0]["systems"]] if name == GENERAL else []
        rows = [r["systems"][name] for r in runs[:1] if name in r["systems"]]
        rows += [runs[0]["systems"][s] for s in beside]
        rows += [r["systems"][name] for r in runs[1:] if name in r["systems"]]
        columns: dict[str, Any] = {}
        for key in rows[0] if rows else ():
            values = [row.get(key) for row in rows]
            if not all(isinstance(v, int | float) for v in values):
                continue
            mean = sum(values) / len(values)
            sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
            columns[key] = {"values": values, "mean": mean, "sd": sd, "min": min(values), "max": max(values)}
        out[name] = {
            "seeds": len(rows),
            "adapters": [name, *beside],
            "eval_runs": [r["eval_run"] for r in runs],
            "columns": columns,
        }
    return out


def spread_table(result: dict[str, Any]) -> str:
    """Mean ± sample sd over the training seeds, per suite and adapter (empty without seeds)."""
    lines = []
    for kind, suite in result["suites"].items():
        for name, spread in suite.get("seeds", {}).items():
            cols = spread["columns"]
            cells = [f"{cols[k]['mean']:.2f} ± {cols[k]['sd']:.2f}" if k in cols else "–" for k, _ in COLUMNS]
            lines.append(f"| {kind} | {name} ({spread['seeds']} seeds) | " + " | ".join(cells) + " |")
    return "\n".join([*header(), *lines]) if lines else ""


def header(*extra: str) -> list[str]:
    """A table's head row and rule: suite, system, every column's label, then `extra` labels."""
    labels = ["suite", "system", *(label for _, label in COLUMNS), *extra]
    return ["| " + " | ".join(labels) + " |", "|" + "---|" * len(labels)]


def table(result: dict[str, Any]) -> str:
    lines = header("items (unans.)")
    for kind, suite in result["suites"].items():
        for name, row in suite["systems"].items():
            cells = ["–" if row.get(k) is None else f"{row[k]:.2f}" for k, _ in COLUMNS]
            n = f"{row['n_items']:.0f} ({row['n_unanswerable']:.0f})"
            lines.append(
                f"| {kind} | {name} ({row.get('signal', 'uncertainty')}) | " + " | ".join(cells) + f" | {n} |"
            )
    return "\n".join(lines)


def machine_label(machine: dict[str, Any]) -> str:
    """`2 CPUs` and, where recorded, the CPU's model and the dtype the systems decoded in."""
    known = [machine.get("cpu_model"), machine.get("dtype")]
    return ", ".join([f"{machine['cpus']} CPUs", *(str(v) for v in known if v)])


def write_doc(result: dict[str, Any]) -> None:
    text = DOC.read_text()
    block = (
        f"{BEGIN}\n`{result['command']}` ({machine_label(result['machine'])}, {result['date']}; "
        f"{result['seconds']:.0f} s)\n\n{table(result)}\n{END}"
    )
    spread = spread_table(result)
    if spread:
        block = block.replace(
            f"\n{END}", f"\n\nOver the training seeds (mean ± sd; {SEEDS_NOTE}):\n\n{spread}\n{END}"
        )
    if BEGIN in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        text = text[:start] + block + text[end:]
    else:
        text = text.rstrip() + "\n\n## Quality on held-out public data\n\n" + block + "\n"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True, help="Workspace of the general stage.")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--adapter", action="append", default=None, help="Adapters to score (default: general)."
    )
    parser.add_argument("--limit", type=int, default=60, help="Test items per suite.")
    parser.add_argument("--budget", type=float, default=0.1, help="Abstention false-refusal budget.")
    parser.add_argument("--sweeps", action="append", default=[], help="Sources to run the sweeps on.")
    parser.add_argument(
        "--only", action="append", default=None, help="Score only these sources (and `injection`)."
    )
    parser.add_argument(
        "--seed",
        type=int,
        action="append",
        default=[],
        help="Train (or reuse) the general adapter with this training seed too, beside it (repeatable).",
    )
    parser.add_argument(
        "--seed-home",
        type=Path,
        action="append",
        default=[],
        help="Another general-stage workspace, its adapter trained with another seed (repeatable).",
    )
    parser.add_argument(
        "--seed-suite",
        action="append",
        default=None,
        help="Score the --seed-home adapters on these sources only (default: every one scored).",
    )
    parser.add_argument(
        "--shipped",
        action="store_true",
        help="Score the general adapter shipped with the package instead of training one in --home "
        "(the stage's KB and evaluation datasets are still built there).",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from groundtune.core.adapters import SHIPPED, resolve_adapter
    from groundtune.infer.engine import resolve_dtype
    from groundtune.pipelines.general import adapter_name, run_general

    args.adapter = args.adapter or [str(SHIPPED / GENERAL) if args.shipped else GENERAL]
    names = [resolve_adapter(a, args.home).name for a in args.adapter]  # a shipped path's is `general`
    t = time.perf_counter()
    steps = ("kb", "data", "test") if args.shipped else ("kb", "data", "test", "train")
    state = run_general(args.data, home=args.home, steps=steps)  # finished steps are skipped
    for seed in args.seed:
        state = run_general(args.data, home=args.home, train_overrides={"seed": seed})
    seeded = [adapter_name(seed=seed) for seed in args.seed]
    args.seed_adapters = [name for name in seeded if name != GENERAL]
    suites = {}
    kinds = dict(state["tests"])
    if INJECTED_SOURCE in kinds:
        kinds[INJECTION] = kinds[INJECTED_SOURCE]
    for kind, dataset in kinds.items():
        if args.only and kind not in args.only:
            continue
        suites[kind] = evaluate_suite(args, kind, dataset)
        homes = args.seed_home if not args.seed_suite or kind in args.seed_suite else []
        if homes or args.seed_adapters:
            runs = [suites[kind], *(evaluate_suite(args, kind, dataset, home) for home in homes)]
            suites[kind]["seeds"] = seed_spread(runs, names, args.seed_adapters)
    result = {
        "benchmark": "quality",
        "baseline": BASELINE,
        "command": "benchmarks/quality.py " + " ".join(os.sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            # bf16 where the CPU computes it natively (AVX-512 bf16, AMX), else fp32: figures from
            # machines that decode in different dtypes differ by more than their seeds do
            "dtype": str(resolve_dtype("auto")).removeprefix("torch."),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "general_stage": {
            "adapter": str(SHIPPED / GENERAL) if args.shipped else state.get("adapter"),
            "timings": state.get("timings"),
        },
        "seed_homes": [str(h) for h in args.seed_home],
        "seed_adapters": args.seed_adapters,
        "budget": args.budget,
        "seconds": time.perf_counter() - t,
        "suites": suites,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    if args.out.resolve() == RESULTS.resolve():  # a side run (--out elsewhere) leaves the docs' table alone
        write_doc(result)
    print(table(result))
    print(spread_table(result))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
