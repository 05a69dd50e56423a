"""An evaluation run: suites x systems on one backend, written as a self-describing folder.

```
runs/<eval_id>/
  eval.json                      settings: model, adapters, systems, suites, grounding, decoding
  records/<suite>/<system>.jsonl one EvalRecord per item
  items/<suite>.jsonl            the items scored (question, documents, gold answer), as Examples
  report.json, report.html       metrics per suite and system, sweeps, plots
```
With a false-refusal budget each system's abstention is calibrated on the dataset's validation split
first; each adapter's threshold is stored as a calibration artifact (`eval.calibration`), never in
the adapter.
Suites are `dataset:NAME[:SPLIT]` (a groundtune dataset, default split `test`), a fixed-context
benchmark from `eval.suites`, or `injection[:dataset:NAME[:SPLIT]]` (held-out items with an instruction
planted in a document, `eval.suites`). It loads models through `infer` and renders only through `grounding`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from groundtune import __version__
from groundtune.core.adapters import resolve_adapter
from groundtune.core.artifacts import EvalReport, migrate_eval_report
from groundtune.core.calibrations import GATE_SPLIT
from groundtune.core.errors import ConflictError, InvalidInputError, NotFoundError
from groundtune.core.ids import new_id
from groundtune.core.schemas import ContextDocument, Example
from groundtune.core.workspace import get_workspace
from groundtune.eval import sweeps as sweep_mod
from groundtune.eval.calibration import (
    answerability_embedder,
    calibrate_systems,
    calibration_items,
    check_budget,
    gate_items,
    record_calibrations,
)
from groundtune.eval.report_page import write_report
from groundtune.eval.runner import ProgressFactory, System, default_systems, pick_demonstrations, run_systems
from groundtune.eval.suites import hotpotqa_parts, injection_source, load_suite
from groundtune.grounding import DEFAULT_STYLE, get_format
from groundtune.grounding.abstention import Abstention
from groundtune.grounding.answerability import Embed
from groundtune.infer.request import Backend, GenerationConfig
from groundtune.models import DEFAULT_LM


def dataset_suite(suite: str) -> tuple[str, str] | None:
    """(dataset name, split) of a `dataset:NAME[:SPLIT]` suite, the split `test` unless given; None
    for a benchmark suite."""
    if not suite.startswith("dataset:"):
        return None
    name, _, split = suite.removeprefix("dataset:").partition(":")
    return name, split or "test"


def source_dataset(suite: str) -> tuple[str, str] | None:
    """(dataset name, split) a suite's items come from: a `dataset:` suite's, or the dataset an
    `injection:dataset:…` suite plants into; None for other suites."""
    inner = injection_source(suite)
    return dataset_suite(suite if inner is None else inner)


def load_items(
    suite: str, *, limit: int | None, data_dir: Path | None, seed: int, home: Any
) -> tuple[list[Example], list[Example]]:
    """(items to score, demonstration pool) of one suite; the pool never overlaps the items. An
    injection suite's demonstrations are its source's own, with nothing planted."""
    from groundtune.data.injection import plant_all

    inner = injection_source(suite)
    if inner:
        items, pool = load_items(inner, limit=limit, data_dir=data_dir, seed=seed, home=home)
        return plant_all(items), pool
    if inner == "":
        held, rest = hotpotqa_parts(data_dir, seed=seed)
        return plant_all(held[:limit] if limit else held), rest
    dataset = dataset_suite(suite)
    if dataset is not None:
        from groundtune.data import load_dataset

        name, split = dataset
        splits = load_dataset(name, home)
        if not splits.get(split):
            raise NotFoundError(
                f"dataset '{name}' has no '{split}' examples", hint="use :test or :validation"
            )
        items = list(splits[split])[:limit] if limit else list(splits[split])
        return items, list(splits.get("train") or [])
    every = load_suite(suite, data_dir=data_dir, seed=seed)
    n = min(limit or len(every), max(1, len(every) - 8))
    return every[:n], every[n:]  # demonstrations come from the items left out of scoring


def _style_for(adapters: dict[str, Any], style: str | None) -> str:
    styles = {a.grounding_style for a in adapters.values() if a.grounding_style}
    if style and styles and styles != {style}:
        raise ConflictError(
            f"adapters were trained with grounding style {sorted(styles)}, not {style!r}",
            hint="drop --style to use the adapters' own style",
        )
    if len(styles) > 1:
        raise ConflictError(
            f"adapters use different grounding styles {sorted(styles)}",
            hint="compare adapters of one style per evaluation run",
        )
    return style or (styles.pop() if styles else DEFAULT_STYLE)


def run(
    suites: Sequence[str],
    *,
    model: str = DEFAULT_LM,
    adapters: Sequence[str] = (),
    shots: int = 2,
    include_zero_shot: bool = True,
    include_base: bool = True,
    limit: int | None = None,
    sweeps: bool = False,
    style: str | None = None,
    max_new_tokens: int = 160,
    data_dir: Path | None = None,
    backend: Backend | None = None,
    judge: Backend | None = None,
    seed: int = 0,
    home: str | Path | None = None,
    progress: ProgressFactory | None = None,
    max_false_refusal: float | None = None,
    constrained: bool = True,
) -> Path:
    """Evaluate base (zero- and few-shot) and each adapter on every suite; returns the run folder.

    `max_false_refusal` (a budget of refused answerable items, e.g. 0.1) first calibrates each
    system's abstention threshold on the dataset's validation split, then scores every suite with
    it; each adapter's threshold is stored as a calibration artifact (`report.json["calibrations"]`
    names them) that serving can use. The adapters themselves are not written to.
    `include_base=False` scores the adapters alone (the base model already measured: another seed).
    `constrained` decodes within the grounding grammar (styles that have one: quotes verbatim, only
    prompt documents named); False lets every system write freely."""
    if not suites:
        raise InvalidInputError("no suite given", hint="pass --suite dataset:NAME or a benchmark suite name")
    for suite in suites:
        injection_source(suite)  # an injection suite over a part that is not held out fails here, first
    calibration_set = _check_abstention(suites, max_false_refusal) if max_false_refusal is not None else None
    refs = {ref.name: ref for ref in (resolve_adapter(a, home) for a in adapters)}
    fmt = get_format(_style_for(refs, style))
    config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0, constrained=constrained)
    systems = default_systems(
        list(refs), shots=shots, include_zero_shot=include_zero_shot, include_base=include_base
    )
    if backend is None:
        from groundtune.infer import Engine

        backend = Engine.load(model, adapters={n: r.path for n, r in refs.items()}, home=home)
    ws = get_workspace(home)
    run_id = new_id("eval")
    run_dir = ws.runs / run_id
    (run_dir / "records").mkdir(parents=True)
    report: dict[str, Any] = {
        "id": run_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "groundtune_version": __version__,
        "model": model,
        "adapters": {n: {"path": str(r.path), **r.manifest.model_dump(mode="json")} for n, r in refs.items()},
        "systems": [s.model_dump() for s in systems],
        "grounding": fmt.describe(),
        "decoding": config.model_dump(),
        "suites": {},
        "sweeps": {},
        "abstention": {},
        "calibrations": {},
        "demonstrations": {},
    }
    (run_dir / "eval.json").write_text(
        json.dumps(
            {
                k: v
                for k, v in report.items()
                if k not in ("suites", "sweeps", "abstention", "calibrations", "demonstrations")
            },
            indent=2,
            default=str,
        )
    )
    first_items: list[Example] = []
    first_demos: list[Example] = []
    abstentions: dict[str, Abstention] = {}
    # answerability (a gate's signal, and a refusal AUROC in every report) is scored with the embedder
    # of the first dataset's KB, or the default one
    datasets = [named[0] for named in map(source_dataset, suites) if named is not None]
    embedder = answerability_embedder(calibration_set or (datasets[0] if datasets else None), home)
    for suite in suites:
        items, pool = load_items(suite, limit=limit, data_dir=data_dir, seed=seed, home=home)
        first_items = first_items or items
        demos = pick_demonstrations(pool, shots, seed=seed) if shots else []
        report["demonstrations"][suite] = [d.id for d in demos]
        first_demos = first_demos or demos
        if max_false_refusal is not None and calibration_set is not None and not abstentions:
            calibrated = calibrate_systems(
                calibration_items(calibration_set, "validation", home),
                systems,
                backend,
                fmt,
                config,
                demos,
                max_false_refusal,
                progress=progress,
                embedder=embedder,
                more_gate_items=gate_items(calibration_set, "validation", home),
                trained_max_listed={name: ref.manifest.max_listed for name, ref in refs.items()},
            )
            report["abstention"] = {name: a.model_dump() for name, a in calibrated.items()}
            abstentions = dict(calibrated)
            report["calibrations"] = record_calibrations(
                calibrated,
                refs,
                model=model,
                fmt=fmt,
                dataset=calibration_set,
                split="validation",
                eval_run=run_id,
                home=home,
            )
        labelled = (lambda name, total, s=suite: progress(f"{s} · {name}", total)) if progress else None
        results = run_systems(
            items,
            systems,
            backend,
            fmt,
            config,
            demos,
            progress=labelled,
            judge=judge,
            abstentions=abstentions,
            embed=embedder[1],
        )
        folder = run_dir / "records" / suite.replace(":", "_")
        folder.mkdir(parents=True, exist_ok=True)
        (run_dir / "items").mkdir(exist_ok=True)
        with (run_dir / "items" / f"{suite.replace(':', '_')}.jsonl").open("w") as fh:
            fh.writelines(item.model_dump_json() + "\n" for item in items)
        for result in results:
            with (folder / f"{result.system.name}.jsonl").open("w") as fh:
                fh.writelines(rec.model_dump_json() + "\n" for rec in result.records)
        report["suites"][suite] = {r.system.name: r.metrics for r in results}
    if sweeps:
        report["sweeps"] = run_sweeps(
            first_items,
            systems,
            backend,
            fmt,
            config,
            demos=first_demos,
            seed=seed,
            progress=progress,
            abstentions=abstentions,
            embed=embedder[1],
        )
    write_report(run_dir, EvalReport.model_validate(report).model_dump(mode="json"))
    return run_dir


def _check_abstention(suites: Sequence[str], max_false_refusal: float) -> str:
    """The dataset whose validation split abstention calibrates on (the first suite's, whose training
    split the answerability gate also fits on); it scores its test split only."""
    check_budget(max_false_refusal)
    first = source_dataset(suites[0])
    if first is None:
        raise InvalidInputError(
            f"abstention is calibrated on a dataset's validation split, and {suites[0]!r} is not a dataset suite",
            hint="put a dataset:NAME suite first, or drop --max-false-refusal",
        )
    parsed = [(s, source_dataset(s)) for s in suites]
    fitted = ("validation", GATE_SPLIT)
    scored = [
        s for s, dataset in parsed if dataset is not None and dataset[0] == first[0] and dataset[1] in fitted
    ]
    if scored:
        raise InvalidInputError(
            f"{scored[0]} is a split abstention is calibrated on (validation; the answerability gate also "
            f"fits on {GATE_SPLIT}), so scoring it would grade the calibration itself",
            hint="score the test split (dataset:NAME or dataset:NAME:test), or drop --max-false-refusal",
        )
    return first[0]


def run_sweeps(
    items: Sequence[Example],
    systems: Sequence[System],
    backend: Backend,
    fmt: Any,
    config: GenerationConfig,
    *,
    demos: Sequence[Example] = (),
    seed: int = 0,
    max_items: int = 20,
    progress: ProgressFactory | None = None,
    abstentions: Mapping[str, Abstention] | None = None,
    embed: Embed | None = None,
) -> dict[str, dict[str, float]]:
    """Answer containment per system against distractor count and relevant-document position. Every
    system runs the variants as it runs the suite: few-shot ones with the same demonstrations, each
    with its calibrated abstention (gate and relevance margin scored with `embed`)."""
    pool: list[ContextDocument] = [d for ex in items for d in ex.documents if not d.relevant]
    base = sweep_mod.usable(items)[:max_items]
    variants = sweep_mod.distractor_sweep(base, pool, seed=seed) + sweep_mod.position_sweep(
        base, pool, seed=seed
    )
    if not variants:
        return {}
    labelled = (lambda name, total: progress(f"sweeps · {name}", total)) if progress else None
    results = run_systems(
        variants,
        systems,
        backend,
        fmt,
        config,
        demos,
        progress=labelled,
        abstentions=abstentions,
        embed=embed,
    )
    return {r.system.name: sweep_mod.summarise(variants, [rec.metrics for rec in r.records]) for r in results}


def show(run: str | Path, home: str | Path | None = None) -> dict[str, Any]:
    """The report of an evaluation run (by id or folder)."""
    path = _find(run, home)
    return migrate_eval_report(json.loads((path / "report.json").read_text())).model_dump(mode="json")


def report(run: str | Path, home: str | Path | None = None) -> Path:
    """Re-render `report.html` from the run's `report.json`; returns the HTML path."""
    path = _find(run, home)
    return write_report(path, show(path))[1]


def _find(run: str | Path, home: str | Path | None) -> Path:
    ws = get_workspace(home)
    for path in (ws.runs / str(run), Path(run).expanduser()):
        if (path / "report.json").is_file():
            return path
    raise NotFoundError(
        f"no evaluation run '{run}'", hint=f"pass an eval_… id from {ws.runs} or a run folder"
    )
