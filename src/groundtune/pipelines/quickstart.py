"""The main job in one command, on the sample knowledge base in `examples/sample_kb`:

1. knowledge base from the sample documents (Markdown, HTML, PDF);
2. grounded dataset with the default recipe (training questions; held-out questions -> test split);
3. LoRA adapter on Gemma 3 270M;
4. base (few-shot) vs tuned on the held-out questions, each abstaining when unsure with a threshold
   calibrated on the validation split: capability table + HTML report;
5. knowledge update without retraining: a document changes, the adapter answers from the new version;
6. the command that serves the adapter with the knowledge base.

Each step records its result in `<workspace>/quickstart/state.json` and is skipped when that result
exists (so a second run is fast); `fresh=True` starts over. Output goes through `say`, progress
through `stage` callbacks, so the CLI decides how it looks.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundtune.core.errors import NotFoundError
from groundtune.core.progress import ProgressEvent
from groundtune.core.workspace import get_workspace
from groundtune.eval.headline import HEADLINE
from groundtune.grounding.abstention import DEFAULT_MAX_FALSE_REFUSAL, Abstention
from groundtune.models import DEFAULT_LM
from groundtune.pipelines.state import StepState

KB_NAME = "quickstart"
DATASET = "quickstart"
ADAPTER = "quickstart"
RECIPE = "default"

# The default recipe's training section as it is (one epoch), with one validation at the end instead
# of four, within what is left of the quickstart's 15 minutes (`QUICKSTART_MINUTES`) once the
# knowledge base and dataset are built, less `AFTER_EVAL_S` (the update step, 31-44 s, and the training's
# set-up outside its own budget, about 40 s) and less the evaluation's time, measured before training
# on this machine (`estimate_eval_seconds`): the base model with its two demonstrations answers the first
# `PROBE_ITEMS` validation questions, as the evaluation will (same engine, prompts and decoding), and the
# evaluation is that time per reply times the replies it writes (both systems, validation and test),
# times `STREAM_FACTOR`, plus `EVAL_FIXED_S`. Until 2026-12-08 the evaluation was kept back as 18
# training steps' time, which held where training and decoding ran at one speed ratio and over-reserved
# where they did not: on an AVX2 CPU whose training steps ran 44 s the 18 steps came to 790 s for an
# evaluation of 337 s, and the adapter trained 4 of its 37 steps. A CPU with native bf16 trains the
# whole epoch (37 steps, about 8 minutes); an AVX2 CPU, two to four times as slow, trains the steps that
# fit. `train_overrides` go on top: a `max_minutes` given there is the training's own budget, and
# nothing is measured or kept back.
QUICKSTART_MINUTES = 15.0
AFTER_EVAL_S = 90.0
PROBE_ITEMS = 16
# The probe's 16 replies run as one wave whose rows empty as replies end, where the evaluation's streams
# of 66 and 120 replies keep their rows full: per reply the evaluation took 0.61 of the probe's time on a
# CPU with native bf16 (2026-12-08: probe 1.08 s a reply, evaluation 143 s for 186 replies). A second run
# there with this factor estimated 157 s for an evaluation of 169 s (0.82 of the probe's time per reply):
# the factor is not a margin, `AFTER_EVAL_S` is.
STREAM_FACTOR = 0.75
EVAL_FIXED_S = 20.0
QUICKSTART_TRAIN: dict[str, Any] = {"eval_every": 10_000}


def train_budget(
    elapsed_s: float, overrides: dict[str, Any] | None = None, eval_s: float = 0.0
) -> dict[str, Any]:
    """The quickstart's training settings after `elapsed_s` seconds of earlier steps: the time left of
    `QUICKSTART_MINUTES` less `AFTER_EVAL_S` and the evaluation's `eval_s` (`estimate_eval_seconds`)
    as `max_minutes`; `overrides` on top (their `max_minutes` is the training's own)."""
    left_min = (QUICKSTART_MINUTES * 60 - elapsed_s - AFTER_EVAL_S - eval_s) / 60
    return {**QUICKSTART_TRAIN, "max_minutes": max(left_min, 0.1), **(overrides or {})}


def estimate_eval_seconds(
    model: str, home: Any, limit: int | None, max_new_tokens: int
) -> tuple[float, float]:
    """(estimated seconds of the evaluation step, seconds the measurement took), on this machine: the
    base model with two demonstrations answers the first `PROBE_ITEMS` validation questions of the
    quickstart's dataset through the engine and the grounding format the evaluation uses, and the
    evaluation is that time per reply times the replies it writes (base and tuned, on the validation
    and test splits) times `STREAM_FACTOR` plus `EVAL_FIXED_S` (loading the model, scoring
    answerability, the report). Base prompts carry the demonstrations and tuned replies run longer;
    docs/sample-kb.md has the estimates against the evaluations measured."""
    from groundtune.data import load_dataset
    from groundtune.eval.runner import default_systems, pick_demonstrations, run_systems
    from groundtune.grounding import DEFAULT_STYLE, get_format
    from groundtune.infer import Engine
    from groundtune.infer.request import GenerationConfig

    started = time.perf_counter()
    splits = load_dataset(DATASET, home)
    validation, test = list(splits.get("validation") or []), list(splits.get("test") or [])
    probe = validation[:PROBE_ITEMS]
    if not probe:
        return EVAL_FIXED_S, 0.0
    demos = pick_demonstrations(list(splits.get("train") or []), 2, seed=0)
    engine = Engine.load(model, home=home)
    config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0)
    t = time.perf_counter()
    base_2shot = default_systems(shots=2, include_zero_shot=False)  # the evaluation's base system
    run_systems(probe, base_2shot, engine, get_format(DEFAULT_STYLE), config, demos)
    per_reply = (time.perf_counter() - t) / len(probe)
    del engine
    replies = 2 * (len(validation) + len(test[:limit] if limit else test))
    return per_reply * replies * STREAM_FACTOR + EVAL_FIXED_S, time.perf_counter() - started


# Both systems abstain when unsure, each with a threshold calibrated on the validation split that
# refuses at most this share of answerable questions there (grounding/abstention.py); the adapter's
# is stored as a calibration artifact, which the update step and the serve command name.
MAX_FALSE_REFUSAL = DEFAULT_MAX_FALSE_REFUSAL


def compare(
    table: dict[str, dict[str, float | None]],
) -> list[tuple[str, float | None, float | None, str | None]]:
    """(capability, base, tuned, verdict) for each row of the printed table; verdict is "yes" when
    the tuned adapter is better, "no" when worse, "tie" when equal, None when a figure is missing."""
    systems = list(table)
    base = next(s for s in systems if s.startswith("base"))
    rows: list[tuple[str, float | None, float | None, str | None]] = []
    for figure in HEADLINE:
        b, t = table[base].get(figure.key), table[systems[-1]].get(figure.key)
        if b is None or t is None:
            verdict = None
        elif abs(t - b) < 1e-9:
            verdict = "tie"
        else:
            verdict = "yes" if (t > b if figure.higher_is_better else t < b) else "no"
        rows.append((figure.label, b, t, verdict))
    return rows


Say = Callable[[str], None]
StageProgress = Callable[[ProgressEvent], None]


SAMPLE_KB = Path("examples") / "sample_kb"


def examples_dir() -> Path:
    """`examples/sample_kb` of a groundtune source checkout, searched upward from this module (a
    checkout, or an editable install of one) and then from the working directory (a checkout used
    with a regular install). The sample KB is not package data: a wheel does not carry it, so
    outside a checkout the caller passes its folder (`examples=`, `groundtune quickstart --examples`)."""
    for origin in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (origin, *origin.parents):
            if (folder / SAMPLE_KB / "docs").is_dir():
                return folder / SAMPLE_KB
    raise NotFoundError(
        f"no {SAMPLE_KB} folder above {Path(__file__).resolve().parent} or {Path.cwd()}",
        hint="run from a groundtune source checkout, or pass --examples DIR (the sample_kb folder)",
    )


@dataclass
class QuickstartResult:
    kb: str
    dataset: str
    adapter: Path
    eval_run: Path
    table: dict[str, dict[str, float | None]]
    calibration: str | None = None
    update: list[dict[str, str]] = field(default_factory=list)
    serve_command: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


def _noop_stage(event: ProgressEvent) -> None:
    return None


def run_quickstart(
    *,
    fresh: bool = False,
    home: str | Path | None = None,
    examples: Path | None = None,
    say: Say = print,
    stage: StageProgress = _noop_stage,
    eval_progress: Any = None,
    train_overrides: dict[str, Any] | None = None,
    model: str = DEFAULT_LM,
    embedder: str = "minilm-l6",
    eval_limit: int | None = None,
    max_new_tokens: int = 96,
) -> QuickstartResult:
    """Run (or resume) the whole quickstart and return what it produced.

    `model`/`embedder` swap the embedded defaults (the tests use the tiny models); `eval_limit`
    scores only the first held-out questions.
    """
    src = Path(examples) if examples else examples_dir()
    if not (src / "docs").is_dir():
        raise NotFoundError(
            f"no sample knowledge base at {src} (it has no docs/ folder)",
            hint="pass the examples/sample_kb folder of a groundtune source checkout",
        )
    ws = get_workspace(home)
    root = ws.home / "quickstart"
    if fresh and root.exists():
        _forget(ws, root)
    root.mkdir(parents=True, exist_ok=True)
    state = StepState(root / "state.json")
    seconds: dict[str, float] = {}

    t = time.perf_counter()
    docs = _kb_step(src, root, home, say, stage, embedder)
    seconds["kb"] = time.perf_counter() - t

    t = time.perf_counter()
    _data_step(src, state, home, say, stage, model)
    seconds["data"] = time.perf_counter() - t

    t = time.perf_counter()
    reserve = None
    if _trained(state) is None and not (train_overrides or {}).get("max_minutes"):
        reserve = estimate_eval_seconds(model, home, eval_limit, max_new_tokens)
    settings = train_budget(
        time.perf_counter() - t + sum(seconds.values()), train_overrides, reserve[0] if reserve else 0.0
    )
    adapter = _train_step(state, home, say, {"model": model, **settings}, reserve)
    seconds["train"] = time.perf_counter() - t

    t = time.perf_counter()
    eval_run, table, calibration = _eval_step(
        state, home, say, eval_progress, model, eval_limit, max_new_tokens
    )
    seconds["eval"] = time.perf_counter() - t

    t = time.perf_counter()
    update = _update_step(src, state, docs, adapter, calibration, home, say, model, max_new_tokens)
    seconds["update"] = time.perf_counter() - t

    command = f"groundtune serve --model {model} --adapter {ADAPTER}={adapter} --kb {KB_NAME}"
    if calibration:
        command += f" --calibration {calibration}"
    state.set("last_run", {"seconds": seconds, "table": table, "update": update})
    return QuickstartResult(KB_NAME, DATASET, adapter, eval_run, table, calibration, update, command, seconds)


def _forget(ws: Any, root: Path) -> None:
    """Remove everything the quickstart made (KB, dataset, adapter, its calibrations, state) so it
    starts over."""
    from groundtune import kb
    from groundtune.core.adapters import resolve_adapter
    from groundtune.core.calibrations import list_calibrations

    if any(s.name == KB_NAME for s in kb.list_kbs(ws.home)):
        kb.delete(KB_NAME, home=ws.home)
    paths = [ws.datasets / DATASET, ws.adapters / ADAPTER, root]
    if (ws.adapters / ADAPTER / "adapter_config.json").is_file():
        ref = resolve_adapter(ADAPTER, ws.home)
        paths += [ws.calibrations / c.name for c in list_calibrations(ws.home, ref)]
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _kb_step(src: Path, root: Path, home: Any, say: Say, stage: StageProgress, embedder: str) -> Path:
    """Copy the sample documents into the workspace (so updates can change them) and ingest them."""
    from groundtune import kb

    docs = root / "docs"
    docs.mkdir(exist_ok=True)
    for file in sorted((src / "docs").iterdir()):
        if file.is_file():
            target = docs / file.name
            if not target.exists() or target.read_bytes() != file.read_bytes():
                shutil.copy2(file, target)
    if not any(s.name == KB_NAME for s in kb.list_kbs(home)):
        kb.create(KB_NAME, embedder=embedder, home=home)
    summary = kb.add(KB_NAME, [docs], progress=stage, home=home)
    say(f"[1/5] knowledge base '{KB_NAME}': {_summary(summary)}")
    return docs


def _summary(summary: Any) -> str:
    data = summary.model_dump() if hasattr(summary, "model_dump") else vars(summary)
    keys = ("added", "updated", "unchanged", "chunks_added", "errors")
    parts = []
    for key in keys:
        value = data.get(key)
        if value is None:
            continue
        parts.append(f"{key} {len(value) if isinstance(value, list) else value}")
    return ", ".join(parts) or str(data)


def _data_step(src: Path, state: StepState, home: Any, say: Say, stage: StageProgress, model: str) -> None:
    from groundtune.data import build_dataset, load_config

    if state.get("dataset"):
        say(f"[2/5] dataset '{DATASET}': already built (skipped)")
        return
    config = load_config(
        RECIPE,
        name=DATASET,
        kb=KB_NAME,
        lm=model,
        sources=[
            {"kind": "qa", "path": str(src / "qa_train.jsonl")},
            {"kind": "qa", "path": str(src / "qa_heldout.jsonl"), "assign": "test"},
        ],
        # Training questions split into train/validation; the held-out questions alone are the test split.
        splits={"train": 0.9, "validation": 0.1},
        overwrite=True,
    )
    result = build_dataset(config, progress=stage, home=home)
    counts = {k: len(v) for k, v in result.splits.items()}
    say(
        f"[2/5] dataset '{DATASET}': {counts} examples, k={config.documents_per_prompt}, P={config.oracle_fraction}"
    )
    state.set("dataset", str(result.path))


def _trained(state: StepState) -> Path | None:
    """The adapter an earlier run trained, when its folder is still there."""
    done = state.get("adapter")
    return Path(done) if done and Path(done).is_dir() else None


def _train_step(
    state: StepState, home: Any, say: Say, overrides: dict[str, Any], reserve: tuple[float, float] | None
) -> Path:
    """Train the adapter within `overrides`' budget; `reserve` is (the evaluation's estimated seconds,
    what measuring it took), recorded with the run."""
    from groundtune.train import load_config, train
    from groundtune.train.rundir import read_run

    done = _trained(state)
    if done is not None:
        say(f"[3/5] adapter '{ADAPTER}': already trained (skipped)")
        return done
    config = load_config(RECIPE, {"dataset": DATASET, "name": ADAPTER, **overrides})
    result = train(config, home=home)
    manifest = read_run(result.run_dir)
    cut = (
        f" (of the recipe's {manifest.unbudgeted_steps}: what fits {config.max_minutes:.1f} minutes here)"
        if manifest.unbudgeted_steps
        else ""
    )
    kept = (
        f"; the evaluation, estimated at {reserve[0]:.0f} s on this machine ({reserve[1]:.0f} s to measure), "
        "was kept back from the budget"
        if reserve
        else ""
    )
    say(
        f"[3/5] adapter '{ADAPTER}': {result.steps} steps{cut}, train loss {result.train_loss:.3f}, "
        f"validation loss {result.best_val_loss or float('nan'):.3f}{kept}"
    )
    state.set(
        "train",
        {
            "run_dir": str(result.run_dir),
            "steps": result.steps,
            "unbudgeted_steps": manifest.unbudgeted_steps,
            "train_seconds": manifest.train_seconds,
            "eval_estimate_s": reserve[0] if reserve else None,
            "eval_probe_s": reserve[1] if reserve else None,
            "train_loss": result.train_loss,
            "best_val_loss": result.best_val_loss,
        },
    )
    state.set("adapter", str(result.registered_adapter))
    return result.registered_adapter


def _eval_step(
    state: StepState, home: Any, say: Say, progress: Any, model: str, limit: int | None, max_new_tokens: int
) -> tuple[Path, dict[str, dict[str, float | None]], str | None]:
    from groundtune.eval.run import run, show

    done = state.get("eval_run")
    # A run from before calibrations were artifacts has none to serve with: evaluate again.
    if done and (Path(done) / "report.json").is_file() and "calibrations" in show(done):
        say("[4/5] evaluation: already done (skipped)")
        run_dir = Path(done)
    else:
        run_dir = run(
            [f"dataset:{DATASET}:test"],
            model=model,
            adapters=[ADAPTER],
            shots=2,
            include_zero_shot=False,
            limit=limit,
            max_new_tokens=max_new_tokens,
            home=home,
            progress=progress,
            max_false_refusal=MAX_FALSE_REFUSAL,
        )
        state.set("eval_run", str(run_dir))
    report = show(run_dir)
    suite = next(iter(report["suites"].values()))
    say(f"[4/5] evaluation on held-out questions: report {run_dir / 'report.html'}")
    for name, calibrated in report.get("abstention", {}).items():
        say(f"      {name} {Abstention.model_validate(calibrated).summary()}")
    calibration = report["calibrations"].get(ADAPTER)
    if calibration:
        say(f"      {ADAPTER}'s threshold is stored as calibration {calibration}")
    return run_dir, suite, calibration


def _update_step(
    src: Path,
    state: StepState,
    docs: Path,
    adapter: Path,
    calibration: str | None,
    home: Any,
    say: Say,
    model: str,
    max_new_tokens: int,
) -> list[dict[str, str]]:
    """Ask each update question, replace the document with its new version, ask again."""
    from groundtune.serve.schemas import ChatCompletionRequest
    from groundtune.serve.server import build_deployment

    updates_file = src / "qa_updates.jsonl"
    if not updates_file.is_file():
        return []
    done = state.get("update")
    if done is not None:
        say("[5/5] knowledge update without retraining: already shown (skipped)")
        return list(done)
    items = [json.loads(line) for line in updates_file.read_text().splitlines() if line.strip()]
    deployment = build_deployment(
        model,
        adapters={ADAPTER: str(adapter)},
        kb=KB_NAME,
        calibrations=[calibration] if calibration else [],
        home=home,
    )
    rows = []
    try:

        def ask(question: str) -> str:
            req = ChatCompletionRequest.model_validate(
                {
                    "model": ADAPTER,
                    "messages": [{"role": "user", "content": question}],
                    "max_tokens": max_new_tokens,
                }
            )
            return deployment.complete(req).choices[0].message.content

        before = {item["question"]: ask(item["question"]) for item in items}
        for item in items:
            shutil.copy2(src / "updates" / item["doc"], docs / item["doc"])
        deployment.kb.add([docs])
        for item in items:
            rows.append(
                {
                    "question": item["question"],
                    "before": before[item["question"]],
                    "after": ask(item["question"]),
                    "expected_before": item["answer_before"],
                    "expected_after": item["answer_after"],
                }
            )
    finally:
        deployment.scheduler.close()
        deployment.kb.close()
    say("[5/5] knowledge update without retraining: documents replaced by their new versions")
    state.set("update", rows)
    return rows
