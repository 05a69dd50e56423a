"""Systems compared in one run get identical item prompts and identical decoding (real tiny engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundtune.core.schemas import ContextDocument, Example, GroundedAnswer, Quote
from groundtune.eval.report_page import write_report
from groundtune.eval.runner import System, build_requests, default_systems, pick_demonstrations, run_systems
from groundtune.eval.sweeps import distractor_sweep, position_sweep, summarise
from groundtune.grounding import get_format
from groundtune.grounding.abstention import Abstention
from groundtune.infer import Engine, GenerationConfig, GenerationRequest


def _example(i: int, answerable: bool = True) -> Example:
    docs = [
        ContextDocument(
            title=f"Doc {i}-{j}",
            text=f"Fact {i}-{j}: the value is {10 * i + j}.",
            relevant=answerable and j == 1,
        )
        for j in range(3)
    ]
    target = (
        GroundedAnswer(
            relevant=[2],
            quotes=[Quote(doc=2, text=f"the value is {10 * i + 1}")],
            answer=f"{10 * i + 1} [2]",
            citations=[2],
        )
        if answerable
        else get_format().refusal_target()
    )
    return Example(
        id=f"ex{i}",
        question=f"What is value {i}?",
        documents=docs,
        answer=str(10 * i + 1) if answerable else "",
        answerable=answerable,
        target=target,
    )


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    from peft import LoraConfig, get_peft_model

    from groundtune.models import load_lm

    lm = load_lm("tiny-random-gemma3")
    peft_model = get_peft_model(
        lm.model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    path = tmp_path_factory.mktemp("adapter") / "tuned"
    peft_model.save_pretrained(path)
    return Engine.load("tiny-random-gemma3", adapters={"tuned": path}, dtype="float32")


class RecordingBackend:
    """Wraps the real engine and records exactly what each call sends."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls: list[list[GenerationRequest]] = []

    def generate(self, requests, progress=None):
        self.calls.append(list(requests))
        return self.engine.generate(requests, progress=progress)


def test_every_system_gets_the_same_prompts_and_decoding(engine: Engine) -> None:
    fmt = get_format("cited")
    items = [_example(i) for i in range(3)] + [_example(9, answerable=False)]
    demos = pick_demonstrations([_example(20 + i) for i in range(3)] + [_example(30, False)], 2)
    systems = default_systems(["tuned"], shots=2)
    assert [s.name for s in systems] == ["base", "base-2shot", "tuned"]
    # another seed of an adapter already compared with base: the adapters alone
    assert [s.name for s in default_systems(["tuned", "b"], include_base=False)] == ["tuned", "b"]
    assert [s.name for s in default_systems([], shots=0, include_base=False)] == ["base"]
    config = GenerationConfig(max_new_tokens=12)
    backend = RecordingBackend(engine)
    results = run_systems(items, systems, backend, fmt, config, demos)

    by_name = dict(zip([s.name for s in systems], backend.calls, strict=True))
    zero, few, tuned = by_name["base"], by_name["base-2shot"], by_name["tuned"]
    for i, ex in enumerate(items):
        task = fmt.render_prompt(ex.question, ex.documents)
        assert zero[i].prompt == tuned[i].prompt == few[i].prompt == task  # byte-identical
        # the few-shot system sees the demonstrations first, as earlier exchanges in the same format
        assert zero[i].history == tuned[i].history == []
        assert few[i].history == [fmt.render_example(d) for d in demos]
    # One decoding config for all; with few-shot systems it also stops where a few-shot reply ends.
    shared = config.model_copy(update={"stop": list(fmt.few_shot_stop)})
    assert {r.config.model_dump_json() for call in backend.calls for r in call} == {shared.model_dump_json()}
    assert [r.adapter for r in tuned] == ["tuned"] * len(items) and {r.adapter for r in zero + few} == {None}

    assert [r.system.name for r in results] == ["base", "base-2shot", "tuned"]
    for result in results:
        assert len(result.records) == len(items)
        assert result.metrics["n_items"] == 4 and result.metrics["n_unanswerable"] == 1
        assert all(rec.prompt_tokens > 0 and rec.completion_tokens >= 1 for rec in result.records)
    # The adapter really changes outputs (its LoRA weights are non-zero).
    assert [r.output for r in results[0].records] != [r.output for r in results[2].records]


def test_demonstrations_are_shortened_and_renumbered() -> None:
    demo = pick_demonstrations([_example(5)], 1, max_documents=2)[0]
    assert len(demo.documents) == 2 and demo.documents[1].relevant
    assert demo.target.relevant == [2] and demo.target.quotes[0].doc == 2
    assert demo.target.answer.endswith("[2]")
    demo = pick_demonstrations([_example(5)], 1, max_documents=1)[0]
    assert demo.target.relevant == [1] and demo.target.answer.endswith("[1]")
    assert demo.target.quotes[0].text in demo.documents[0].text


def test_a_systems_list_rule_is_capped_at_what_it_was_trained_or_shown_to_name() -> None:
    from groundtune.eval.calibration import shown_max_listed

    two = _example(7).model_copy(update={"target": GroundedAnswer(relevant=[1, 2], answer="x [1] [2]")})
    demos = [_example(5), _example(6, False), two]
    assert shown_max_listed(System(name="base-2shot", shots=2), demos, {}) == 1  # only the shown ones count
    assert shown_max_listed(System(name="base-3shot", shots=3), demos, {}) == 2
    assert shown_max_listed(System(name="base"), demos, {}) is None  # shown nothing: unknown
    shown = shown_max_listed(System(name="base-1shot", shots=1), [_example(6, False)], {})
    assert shown is None  # a refusal names no document
    tuned = System(name="tuned", adapter="tuned")
    assert shown_max_listed(tuned, demos, {"tuned": 2}) == 2
    assert shown_max_listed(tuned, demos, {"tuned": None}) is None


def test_more_shots_than_demonstrations_is_rejected() -> None:
    from groundtune.core.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        build_requests([_example(1)], [System(name="b", shots=2)], get_format(), GenerationConfig(), [])


def test_sweeps_vary_only_count_and_position() -> None:
    items = [_example(i) for i in range(2)]
    pool = [ContextDocument(title=f"P{i}", text=f"Pool text {i}.") for i in range(10)]
    dist = distractor_sweep(items, pool, counts=(0, 2, 8))
    assert sorted({len(v.documents) for v in dist}) == [1, 3, 9]
    for v in dist:
        gold = [n for n, d in enumerate(v.documents, 1) if d.relevant]
        assert v.target.relevant == gold and v.target.answer.endswith(f"[{gold[0]}]")
    pos = position_sweep(items, pool, n_documents=5)
    spots = {v.meta["sweep"]: [d.relevant for d in v.documents].index(True) for v in pos}
    assert spots == {"position=first": 0, "position=middle": 2, "position=last": 4}
    table = summarise(pos, [{"answer_containment": 1.0}] * len(pos))
    assert table == {"position=first": 1.0, "position=middle": 1.0, "position=last": 1.0}


def test_report_is_self_contained_html(tmp_path: Path) -> None:
    metrics = {
        "base": {
            "relevance_f1": 0.2,
            "answer_f1": 0.1,
            "refusal_f1": 0.0,
            "false_refusal_rate": 0.3,
            "n_items": 4,
        },
        "tuned": {
            "relevance_f1": 0.8,
            "answer_f1": 0.5,
            "refusal_f1": 0.7,
            "false_refusal_rate": 0.1,
            "n_items": 4,
        },
    }
    report = {
        "id": "eval_x",
        "suites": {"toy": metrics},
        "sweeps": {
            "base": {"distractors=0": 0.5, "distractors=4": 0.2, "position=first": 0.4, "position=last": 0.3}
        },
        "abstention": {
            "tuned": {
                "threshold": 0.5,
                "max_false_refusal": 0.1,
                "items": 10,
                "answerable": 6,
                "false_refusal": 0.0,
                "refusal_recall": 0.75,
            },
        },
    }
    json_path, html_path = write_report(tmp_path, report)
    page = html_path.read_text()
    assert "abstains at uncertainty &gt;= 0.500" in page and "75% of refusal questions" in page
    assert json_path.exists() and page.count("<svg") == 3
    assert (
        "<b>0.800</b>" in page and "<b>0.100</b>" in page
    )  # best relevance F1 and lowest false-refusal rate
    assert "<link" not in page and "src=" not in page and 'href="http' not in page  # no external assets


def test_systems_decode_constrained_by_default_and_records_say_so(engine: Engine) -> None:
    fmt = get_format("cited")
    items = [_example(i) for i in range(2)] + [_example(9, answerable=False)]
    systems = [System(name="base"), System(name="tuned", adapter="tuned")]
    held = run_systems(items, systems, engine, fmt, GenerationConfig(max_new_tokens=40))
    for result in held:
        assert all(rec.constrained for rec in result.records) and result.metrics["constrained"] == 1.0
        # Every quote of a reply that ended verifies; the token limit may cut one inside a quote.
        ended = [rec for rec in result.records if rec.completion_tokens < 40]
        assert all(rec.metrics["quote_precision"] in (1.0, None) for rec in ended)
    free = run_systems(items, systems[:1], engine, fmt, GenerationConfig(max_new_tokens=8, constrained=False))
    assert not any(rec.constrained for rec in free[0].records) and free[0].metrics["constrained"] == 0.0


def test_an_answerability_gate_refuses_without_generating_and_makes_the_rest_answer(engine: Engine) -> None:
    from groundtune.models.registry import TINY_EMBEDDER, load_embedder

    fmt = get_format("cited")
    items = [_example(i) for i in range(4)]
    # two questions no document speaks of: their answerability is 0
    items[1] = items[1].model_copy(
        update={"question": "Who painted the chapel ceiling?", "answerable": False}
    )
    items[3] = items[3].model_copy(update={"question": "Which river floods in spring?", "answerable": False})
    gate = _answerability_gate(0.5, items=4)
    config = GenerationConfig(max_new_tokens=24, temperature=0.0, constrained=True)
    systems = [System(name="tuned", adapter="tuned")]
    embedder = load_embedder(TINY_EMBEDDER)  # real (tiny, random) sentence embeddings
    (result,) = run_systems(
        items, systems, engine, fmt, config, abstentions={"tuned": gate}, embed=embedder.encode
    )
    scores = [r.answerability for r in result.records]
    assert all(s is not None for s in scores)
    refused = [r for r in result.records if r.answerability is not None and r.answerability < 0.5]
    answered = [r for r in result.records if r.answerability is not None and r.answerability >= 0.5]
    assert len(refused) == 2 and len(answered) == 2
    for rec in refused:  # the gate's refusal: the format's refusal reply, nothing generated
        assert rec.output == fmt.render_target(fmt.refusal_target())
        assert rec.parsed.refusal and rec.completion_tokens == 0
    for rec in answered:  # decoded within a grammar that has no `Relevant: none`
        assert rec.completion_tokens > 0 and rec.constrained
        assert not rec.output.startswith("Relevant: none")
    assert result.metrics["refusal_recall"] == 1.0
    assert result.metrics["refusal_auroc_answerability"] == 1.0


def _answerability_gate(gate: float, items: int) -> Abstention:
    """A calibrated answerability gate of `items` calibration items (two answerable, every refusal one
    refused): it refuses below `gate` and makes the model answer at or above it."""
    return Abstention(
        threshold=None,
        max_false_refusal=0.1,
        items=items,
        answerable=2,
        false_refusal=0.0,
        refusal_recall=1.0,
        signal="answerability",
        gate=gate,
    )


def _off_topic(ex: Example, question: str) -> Example:
    """`ex` asked a question none of its documents speaks of: a refusal item."""
    return ex.model_copy(
        update={"question": question, "answerable": False, "target": get_format().refusal_target()}
    )


def test_the_answerability_gate_also_fits_on_items_nothing_generates_for(engine: Engine) -> None:
    from groundtune.eval.calibration import calibrate_systems
    from groundtune.grounding.abstention import calibrate_gate
    from groundtune.grounding.answerability import fit_gate_weights, gate_score, score_items
    from groundtune.models.registry import TINY_EMBEDDER, load_embedder

    fmt = get_format("cited")
    embedder = load_embedder(TINY_EMBEDDER)
    # four generated-for items: two answerable ones are too few for a 10% budget to refuse any
    items = [_example(0), _off_topic(_example(1), "Who painted the chapel ceiling?"), _example(2)]
    items.append(_off_topic(_example(3), "Which river floods in spring?"))
    more = [_example(i) for i in range(10, 40)] + [
        _off_topic(_example(i), f"Which composer wrote symphony number {i}?") for i in range(40, 50)
    ]
    backend = RecordingBackend(engine)
    config = GenerationConfig(max_new_tokens=24, temperature=0.0, constrained=True)
    fitted = calibrate_systems(
        items,
        [System(name="tuned", adapter="tuned")],
        backend,
        fmt,
        config,
        [],
        0.1,
        embedder=(TINY_EMBEDDER, embedder.encode),
        more_gate_items=more,
    )["tuned"]
    # the model only answered the four (and, under the gate, again those answerable it had refused);
    # the gate counted all 44 (32 answerable)
    assert len(backend.calls[0]) == len(items) and sum(len(call) for call in backend.calls[1:]) <= 2
    every = items + more
    scored = score_items(
        [(ex.question, [(d.title, d.text) for d in ex.documents]) for ex in every], embedder.encode
    )
    targets = [not ex.answerable for ex in every]
    weights = fit_gate_weights([s.features for s in scored], targets)
    expected = calibrate_gate([gate_score(s, weights) for s in scored], targets, 0.1)
    assert expected.gate is not None and expected.answerable == 32
    assert fitted.signal == "answerability" and fitted.gate_weights == pytest.approx(weights)
    assert (fitted.gate, fitted.items, fitted.answerable) == (pytest.approx(expected.gate), 44, 32)
    assert "44 calibration questions" in fitted.summary()


def test_relevance_is_calibrated_on_the_lists_written_under_the_gate(engine: Engine) -> None:
    from groundtune.eval.calibration import gated_lists
    from groundtune.models.registry import TINY_EMBEDDER, load_embedder

    fmt = get_format("cited")
    embed = load_embedder(TINY_EMBEDDER).encode
    items = [_example(0), _example(1), _off_topic(_example(2, False), "Who painted the chapel ceiling?")]
    config = GenerationConfig(max_new_tokens=24, temperature=0.0, constrained=True)
    system = System(name="tuned", adapter="tuned")
    (result,) = run_systems(items, [system], engine, fmt, config, embed=embed)
    # item 0 as if the model had refused it on its own; the refusal item refused too
    refusal = fmt.parse(fmt.render_target(fmt.refusal_target()), items[0].documents)
    records = [result.records[0].model_copy(update={"parsed": refusal}), result.records[1]]
    records.append(result.records[2].model_copy(update={"parsed": refusal}))
    gate = _answerability_gate(-1.0, items=3)  # lets every question through
    backend = RecordingBackend(engine)
    lists = gated_lists(items, records, system, gate, backend, fmt, config, [], embed)
    # only the answerable item it refused is asked again, and under the gate it must name a document
    assert [[r.prompt for r in call] for call in backend.calls] == [[result.records[0].prompt]]
    assert backend.calls[0][0].constraint is not None and backend.calls[0][0].constraint.must_answer
    assert lists[0] and all(1 <= n <= 3 for n in lists[0])
    assert lists[1:] == [list(records[1].parsed.relevant), []]
    # without a gate the model may refuse when served too: its own lists stand, nothing is generated
    plain = gate.model_copy(update={"signal": "uncertainty", "gate": None})
    assert gated_lists(items, records, system, plain, backend, fmt, config, [], embed)[0] == []
    assert len(backend.calls) == 1


def test_abstention_never_scores_a_split_it_was_fitted_on() -> None:
    from groundtune.core.errors import InvalidInputError
    from groundtune.eval.run import _check_abstention

    assert _check_abstention(["dataset:kb:test", "dataset:other:validation"], 0.1) == "kb"
    for fitted in ("dataset:kb:validation", "dataset:kb:train"):
        with pytest.raises(InvalidInputError, match="grade the calibration itself"):
            _check_abstention(["dataset:kb:test", fitted], 0.1)
