"""Calibrating abstention: run systems on a dataset's validation split, fit each one's threshold
within a false-refusal budget (`grounding.abstention.calibrate`), and store an adapter's as a
calibration artifact (`core.calibrations`) that serving can name.

`calibrate_adapter` is `groundtune eval calibrate`; `eval run --max-false-refusal` uses the same
pieces for every compared system. The adapter itself is never written to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from groundtune import __version__
from groundtune.core.adapters import AdapterRef, resolve_adapter
from groundtune.core.calibrations import GATE_SPLIT, Calibration, now, write_calibration
from groundtune.core.errors import InvalidInputError
from groundtune.core.ids import new_id
from groundtune.core.schemas import EvalRecord, Example
from groundtune.eval.metrics import gold_relevant
from groundtune.eval.runner import ProgressFactory, System, run_systems, score_examples
from groundtune.grounding import DEFAULT_STYLE, get_format
from groundtune.grounding.abstention import (
    DEFAULT_MAX_FALSE_REFUSAL,
    Abstention,
    calibrate,
    calibrate_relevance,
    calibrate_weighted_gate,
    choose,
    gate_outcome,
    has_gate,
)
from groundtune.grounding.answerability import Embed, Scored
from groundtune.grounding.format import GroundingFormat
from groundtune.infer.request import Backend, GenerationConfig
from groundtune.models import DEFAULT_EMBEDDER, DEFAULT_LM


def check_budget(max_false_refusal: float) -> None:
    if not 0.0 <= max_false_refusal < 1.0:
        raise InvalidInputError(
            f"max_false_refusal {max_false_refusal} is outside [0, 1)",
            hint="use e.g. 0.1 (refuse at most 10% of answerable items)",
        )


def calibration_items(dataset: str, split: str, home: Any) -> list[Example]:
    """The labelled items a threshold is fitted to; both answerable and refusal items are needed."""
    from groundtune.eval.run import load_items

    items, _ = load_items(f"dataset:{dataset}:{split}", limit=None, data_dir=None, seed=0, home=home)
    targets = [not ex.answerable for ex in items]
    if all(targets) or not any(targets):
        raise InvalidInputError(
            f"dataset '{dataset}' {split} split needs both answerable and refusal items to calibrate abstention",
            hint="rebuild the dataset with unanswerable questions (or fewer oracle documents), "
            "or drop --max-false-refusal",
        )
    return items


MAX_GATE_ITEMS = 600
"""At most this many `GATE_SPLIT` items are scored (a fixed seeded sample): enough for the budget's
quantile, and a large training split costs no more than a few seconds of embedding."""


def gate_items(dataset: str, split: str, home: Any) -> list[Example]:
    """Items an answerability gate fits on besides `split`'s: the dataset's `GATE_SPLIT` (none when
    that is `split`, or absent), at most `MAX_GATE_ITEMS` of them."""
    import random

    from groundtune.data import load_dataset

    items = [] if split == GATE_SPLIT else list(load_dataset(dataset, home).get(GATE_SPLIT) or [])
    return items if len(items) <= MAX_GATE_ITEMS else random.Random(0).sample(items, MAX_GATE_ITEMS)


def answerability_embedder(dataset: str | None, home: Any = None) -> tuple[str, Embed]:
    """The embedder answerability is scored with: the one `dataset`'s KB was embedded with (its
    retriever's), else the default; its name and its encode function."""
    from groundtune.core.errors import NotFoundError
    from groundtune.data.store import load_card
    from groundtune.models.registry import load_embedder

    name = DEFAULT_EMBEDDER
    # a folder of examples without a card: its KB is unknown, the default embedder it is
    with contextlib.suppress(NotFoundError):
        name = (load_card(dataset, home).embedder if dataset else None) or DEFAULT_EMBEDDER
    return name, load_embedder(name).encode


def calibrate_systems(
    items: Sequence[Example],
    systems: Sequence[System],
    backend: Backend,
    fmt: GroundingFormat,
    config: GenerationConfig,
    demos: Sequence[Example],
    max_false_refusal: float,
    *,
    progress: ProgressFactory | None = None,
    embedder: tuple[str, Embed] | None = None,
    more_gate_items: Sequence[Example] = (),
    trained_max_listed: Mapping[str, int | None] | None = None,
) -> dict[str, Abstention]:
    """Each system's abstention, from its replies to the labelled `items`: an uncertainty threshold,
    or (given an `embedder`) an answerability gate when that refuses better (`abstention.choose`);
    with an `embedder`, also the relevance margin its Relevant lists (as written under the chosen gate:
    `gated_lists`) do best under, or under which naming every document within it (at most as many as
    the system was trained or shown to name: `shown_max_listed`) does better
    (`abstention.calibrate_relevance`). The gate fits on `items` and `more_gate_items` (labelled items
    nothing generates for: `gate_items`). `trained_max_listed`: each adapter's manifest `max_listed`."""
    targets = [not ex.answerable for ex in items]
    labelled = (lambda n, total: progress(f"calibrate · {n}", total)) if progress else None
    embed = embedder[1] if embedder else None
    results = run_systems(items, systems, backend, fmt, config, demos, progress=labelled, embed=embed)
    gate_fit_items = list(items) + list(more_gate_items)
    scored = score_examples(gate_fit_items, embed) if embed is not None else []
    gate = fit_gate(scored, [not ex.answerable for ex in gate_fit_items], embedder, max_false_refusal)
    # judged on the validation items alone, like the systems' own decisions (`abstention.choose`)
    gate_here = gate_outcome(gate, scored[: len(items)], targets) if gate is not None else None
    fitted = {}
    for r in results:
        aurocs = {
            "uncertainty": r.metrics.get("refusal_auroc_uncertainty"),
            "answerability": r.metrics.get("refusal_auroc_answerability"),
        }
        by_uncertainty = calibrate(
            [rec.uncertainty for rec in r.records],
            [rec.parsed.refusal for rec in r.records],
            targets,
            max_false_refusal,
        ).model_copy(update={"auroc": aurocs})
        chosen = choose(by_uncertainty, gate, gate_here)
        if embedder is not None and all(rec.document_scores is not None for rec in r.records):
            margin, list_all, cap, _ = calibrate_relevance(
                gated_lists(items, r.records, r.system, chosen, backend, fmt, config, demos, embedder[1]),
                [rec.document_scores or [] for rec in r.records],
                [gold_relevant(ex) for ex in items],
                shown_max_listed(r.system, demos, trained_max_listed or {}),
            )
            chosen = chosen.model_copy(
                update={
                    "relevance_margin": margin,
                    "list_all": list_all,
                    "max_listed": cap,
                    "embedder": embedder[0],
                }
            )
        fitted[r.system.name] = chosen
    return fitted


def shown_max_listed(
    system: System, demos: Sequence[Example], trained: Mapping[str, int | None]
) -> int | None:
    """The most documents `system` was trained or shown to name as relevant: an adapter's training
    targets (`trained`, by adapter name), the base model's demonstrations; None when unknown (the
    calibration then caps the list rule at what its own lists named)."""
    if system.adapter is not None:
        return trained.get(system.adapter)
    shown = [len(d.target.relevant) for d in demos[: system.shots]]
    return max(shown, default=0) or None


def gated_lists(
    items: Sequence[Example],
    records: Sequence[EvalRecord],
    system: System,
    abstention: Abstention,
    backend: Backend,
    fmt: GroundingFormat,
    config: GenerationConfig,
    demos: Sequence[Example],
    embed: Embed,
) -> list[list[int]]:
    """Each item's Relevant list as the system writes it under `abstention`: where its gate lets a
    question through, the model may not refuse, so an answerable item it refused on its own is asked
    again under the gate (greedy decoding: a reply that did not refuse is what the gate would get).
    Calibrating relevance on the ungated refusals would credit the model with the fallback's best
    document where, served, it writes a list of its own."""
    lists = [list(rec.parsed.relevant) for rec in records]
    again = [i for i, rec in enumerate(records) if rec.parsed.refusal and gold_relevant(items[i])]
    if not has_gate(abstention) or not again:
        return lists
    gate_only = abstention.model_copy(
        update={"relevance_margin": None, "list_all": False, "max_listed": None}
    )
    (rerun,) = run_systems(
        [items[i] for i in again],
        [system],
        backend,
        fmt,
        config,
        demos,
        abstentions={system.name: gate_only},
        embed=embed,
    )
    for i, rec in zip(again, rerun.records, strict=True):
        lists[i] = list(rec.parsed.relevant)
    return lists


def fit_gate(
    scored: Sequence[Scored],
    refusal_targets: Sequence[bool],
    embedder: tuple[str, Embed] | None,
    max_false_refusal: float,
) -> Abstention | None:
    """The answerability gate fitted on labelled items scored so (`score_examples`; None without an
    embedder): the weights of the answerability features that tell their answerable items from their
    refusal ones (`answerability.fit_gate_weights`), then the cut on the weighted score within the
    budget. It reads no model, so every system gets the same gate."""
    if embedder is None:
        return None
    return calibrate_weighted_gate(scored, refusal_targets, max_false_refusal, embedder=embedder[0])


def record_calibrations(
    calibrated: Mapping[str, Abstention],
    refs: Mapping[str, AdapterRef],
    *,
    model: str,
    fmt: GroundingFormat,
    dataset: str,
    split: str,
    eval_run: str | None = None,
    names: Mapping[str, str] | None = None,
    home: Any = None,
) -> dict[str, str]:
    """Store each adapter's threshold as a new calibration artifact; returns adapter -> calibration
    name. Base systems' thresholds stay in the evaluation report only (serving has no few-shot base)."""
    stored = {}
    for system, ref in refs.items():
        a = calibrated[system]
        calibration = Calibration(
            name=(names or {}).get(system) or new_id("cal"),
            created=now(),
            groundtune_version=__version__,
            adapter=ref.name,
            adapter_path=str(ref.path),
            adapter_run_id=ref.run_id,
            model=model,
            grounding_format=f"{fmt.id}@{fmt.version}",
            dataset=dataset,
            split=split,
            eval_run=eval_run,
            **a.model_dump(),
        )
        write_calibration(calibration, home)
        stored[system] = calibration.name
    return stored


def calibrate_adapter(
    adapter: str,
    dataset: str,
    *,
    split: str = "validation",
    max_false_refusal: float = DEFAULT_MAX_FALSE_REFUSAL,
    name: str | None = None,
    model: str | None = None,
    max_new_tokens: int = 160,
    backend: Backend | None = None,
    home: str | Path | None = None,
    progress: ProgressFactory | None = None,
) -> Calibration:
    """Fit `adapter`'s abstention threshold on `dataset`'s `split` and store it as a calibration.

    The adapter answers zero-shot with greedy decoding, as it does in `eval run` and in serving."""
    from groundtune.core.calibrations import load_calibration

    check_budget(max_false_refusal)
    ref = resolve_adapter(adapter, home)
    model = model or ref.manifest.model or DEFAULT_LM
    items = calibration_items(dataset, split, home)
    more = gate_items(dataset, split, home)
    embedder = answerability_embedder(dataset, home)
    fmt = get_format(ref.grounding_style or DEFAULT_STYLE)
    config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0)
    if backend is None:
        from groundtune.infer import Engine

        backend = Engine.load(model, adapters={ref.name: ref.path}, home=home)
    system = System(name=ref.name, adapter=ref.name)
    calibrated = calibrate_systems(
        items,
        [system],
        backend,
        fmt,
        config,
        [],
        max_false_refusal,
        progress=progress,
        embedder=embedder,
        more_gate_items=more,
        trained_max_listed={ref.name: ref.manifest.max_listed},
    )
    names = {ref.name: name} if name else None
    stored = record_calibrations(
        calibrated,
        {ref.name: ref},
        model=model,
        fmt=fmt,
        dataset=dataset,
        split=split,
        names=names,
        home=home,
    )
    return load_calibration(stored[ref.name], home)
