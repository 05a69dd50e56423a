"""`groundtune data build | show | export | preview`: a thin table over `groundtune.data`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from groundtune.cli import remote
from groundtune.cli.app import console, handle_errors, stage_bars

app = typer.Typer(
    help="Grounded training data: build, show, export and preview datasets.", no_args_is_help=True
)


def _sources(
    qa: list[Path],
    qa_test: list[Path],
    nq_open_oracle: Path | None,
    clapnq: Path | None,
    clapnq_split: str,
    public: list[str],
    part: str,
    limit: int | None,
    teacher_url: str | None,
    teacher_model: str | None,
    teacher_chunks: int,
    questions_per_chunk: int,
) -> list[dict[str, Any]]:
    sources: list[dict[str, Any]] = [{"kind": "qa", "path": str(p), "limit": limit} for p in qa]
    sources += [{"kind": "qa", "path": str(p), "limit": limit, "assign": "test"} for p in qa_test]
    if nq_open_oracle:
        sources.append({"kind": "nq_open_oracle", "path": str(nq_open_oracle), "limit": limit})
    if clapnq:
        sources.append({"kind": "clapnq", "path": str(clapnq), "split": clapnq_split, "limit": limit})
    for spec in public:
        kind, sep, path = spec.partition("=")
        if not sep or not path:
            from groundtune.core.errors import InvalidInputError

            raise InvalidInputError(
                f"--source {spec!r} is not KIND=PATH",
                hint="e.g. --source squad2=../shared/data/squad2_dev_half",
            )
        extra = {"split": clapnq_split} if kind == "clapnq" else {}
        sources.append({"kind": kind, "path": path, "limit": limit, "part": part, **extra})
    if teacher_url:
        sources.append(
            {
                "kind": "teacher",
                "chunks": teacher_chunks,
                "limit": limit,
                "teacher": {
                    "base_url": teacher_url,
                    "model": teacher_model or "default",
                    "questions_per_chunk": questions_per_chunk,
                },
            }
        )
    return sources


@app.command("build")
@handle_errors
def build_cmd(
    name: str = typer.Option(None, "--name", help="Dataset name (folder under <workspace>/datasets)."),
    kb: str = typer.Option(None, "--kb", help="Knowledge base whose retriever supplies the contexts."),
    recipe: Path | None = typer.Option(None, "--config", help="YAML recipe; flags override it."),
    qa: list[Path] = typer.Option([], "--qa", help="QA file (JSONL/CSV/TSV); repeatable."),
    qa_test: list[Path] = typer.Option(
        [], "--qa-test", help="QA file whose questions (and their documents) all go to the test split."
    ),
    nq_open_oracle: Path | None = typer.Option(
        None, "--nq-open-oracle", help="NQ-open oracle file or folder."
    ),
    clapnq: Path | None = typer.Option(None, "--clapnq", help="ClapNQ release folder."),
    clapnq_split: str = typer.Option("dev", "--clapnq-split"),
    public: list[str] = typer.Option(
        [],
        "--source",
        help="Public source KIND=PATH (nq_open_oracle, clapnq, squad2, quotesum, hotpotqa, "
        "rgb_counterfactual); repeatable.",
    ),
    part: str = typer.Option(
        "all",
        "--part",
        help="Public sources: all (held-out part -> test, validation part -> validation), train (leave "
        "both out), validation or test (only that part).",
    ),
    split_by: str | None = typer.Option(
        None, "--split-by", help="document (default) or question: what the held-out splits hold out."
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many questions per source."),
    teacher_url: str | None = typer.Option(None, "--teacher-url", help="OpenAI-compatible base URL (…/v1)."),
    teacher_model: str | None = typer.Option(None, "--teacher-model"),
    teacher_chunks: int = typer.Option(50, "--teacher-chunks", min=1),
    questions_per_chunk: int = typer.Option(1, "--questions-per-chunk", min=1),
    style: str | None = typer.Option(None, "--style", help="cited (default), raft-cot or answer-only."),
    k: int | None = typer.Option(
        None,
        "--documents-per-prompt",
        "-k",
        "--k",
        help="Documents per example, and per prompt when serving (default 4); -k/--k are its old names.",
    ),
    oracle_fraction: float | None = typer.Option(None, "-p", "--oracle-fraction", help="P (default 0.8)."),
    contrast_fraction: float | None = typer.Option(
        None, "--contrast-fraction", help="Share of oracle training questions also shown without evidence."
    ),
    candidates: int | None = typer.Option(
        None, "--candidates", help="Retriever hits per question (default 20)."
    ),
    random_distractors: float | None = typer.Option(
        None, "--random-distractors", help="Share of random distractors."
    ),
    seed: int | None = typer.Option(None, "--seed"),
    lm: str | None = typer.Option(
        None, "--lm", help="LM whose tokenizer counts the budget (default gemma-3-270m)."
    ),
    max_tokens: int | None = typer.Option(
        None, "--max-tokens", help="Prompt + completion budget (default 1024)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a stored dataset of the same name."),
) -> None:
    """Build a grounded dataset from QA sources with THE retriever of a knowledge base. With
    --server, --qa/--qa-test files are uploaded first; paths of public sources are the server's."""
    from groundtune.data.config import load_config

    client = remote.client() if remote.server() else None
    if client is not None:  # QA files go up once each; the build names them by file id
        qa = [Path(client.files.create(p).id) for p in qa]
        qa_test = [Path(client.files.create(p).id) for p in qa_test]
    sources = _sources(
        qa,
        qa_test,
        nq_open_oracle,
        clapnq,
        clapnq_split,
        public,
        part,
        limit,
        teacher_url,
        teacher_model,
        teacher_chunks,
        questions_per_chunk,
    )
    config = load_config(
        recipe,
        name=name,
        kb=kb,
        sources=sources,
        style=style,
        documents_per_prompt=k,
        oracle_fraction=oracle_fraction,
        contrast_fraction=contrast_fraction,
        candidates=candidates,
        random_distractors=random_distractors,
        seed=seed,
        lm=lm,
        max_tokens=max_tokens,
        split_by=split_by,
        overwrite=overwrite or None,
    )
    if client is not None:
        card = remote.wait(client.datasets.create(config)).artifact()
        _print_report(card.name, card.stats)
        console.print(f"[green]saved:[/] {client.base_url}/v1/datasets/{card.name}")
        return
    from groundtune.data import build_dataset

    with stage_bars() as progress:
        result = build_dataset(config, progress=progress)
    _print_report(result.card.name, result.report)
    console.print(f"[green]saved:[/] {result.path}")


def _print_report(name: str, report: dict[str, Any]) -> None:
    table = Table("measure", "value", title=f"dataset {name}")
    tokens = report.get("tokens", {})
    rows = [
        ("questions", report.get("questions")),
        ("examples", report.get("examples")),
        ("splits", ", ".join(f"{k}={v}" for k, v in report.get("splits", {}).items())),
        ("split by", report.get("split_by", "document")),
        (
            "answerable / refusal per split",
            ", ".join(
                f"{k}={v['answerable']}/{v['refusal']}" for k, v in report.get("split_kinds", {}).items()
            ),
        ),
        ("refusal share", report.get("refusal_share")),
        (
            "answerable with verified quote",
            f"{report.get('answerable_with_verified_quote')}/{report.get('answerable_examples')} "
            f"({report.get('verified_quote_share', 0):.1%})",
        ),
        ("multi-document targets", report.get("multi_document_targets")),
        ("documents per example", report.get("documents_per_example", {}).get("histogram")),
        ("prompt tokens (mean/p95/max)", _triple(tokens.get("prompt"))),
        ("completion tokens (mean/p95/max)", _triple(tokens.get("completion"))),
        ("truncations", report.get("truncations")),
        ("evidence from free-form support", report.get("evidence_from_support", 0)),
        ("drops", report.get("drops") or "none"),
        ("time (s)", report.get("timings_s", {}).get("total")),
    ]
    for key, value in rows:
        table.add_row(key, escape(str(value)))
    console.print(table)
    for warning in report.get("warnings") or []:
        console.print(f"[bold red]warning:[/] {escape(warning)}")


def _triple(stats: dict[str, float] | None) -> str:
    return "-" if not stats else f"{stats['mean']:.0f} / {stats['p95']:.0f} / {stats['max']:.0f}"


@app.command("show")
@handle_errors
def show_cmd(
    name: str | None = typer.Argument(None, help="Dataset name or folder; omit to list datasets."),
) -> None:
    """List datasets, or show one dataset's card and build report."""
    if remote.server():
        client = remote.client()
        cards = list(client.datasets.list(limit=100)) if name is None else [client.datasets.retrieve(name)]
    else:
        from groundtune.data import list_datasets, load_card

        cards = [load_card(ds) for ds in list_datasets()] if name is None else [load_card(name)]
    if name is None:
        table = Table("name", "examples", "style", "k", "P", "kb", "created")
        for card in cards:
            table.add_row(
                card.name,
                str(sum(card.splits.values())),
                f"{card.grounding.style if card.grounding else None} v{card.grounding.version if card.grounding else None}",
                str(card.documents_per_prompt),
                str(card.oracle_fraction),
                str(card.kb),
                card.created_at,
            )
        console.print(table)
        return
    card = cards[0]
    console.print(
        f"[bold]{card.name}[/] ({card.id}) kb={card.kb} embedder={card.embedder} "
        f"retriever={card.retriever.hash if card.retriever else None} "
        f"grounding={card.grounding.style if card.grounding else None} "
        f"v{card.grounding.version if card.grounding else None} k={card.documents_per_prompt} "
        f"P={card.oracle_fraction} seed={card.seed}"
    )
    if remote.server():
        _print_report(card.name, card.stats)
        return
    from groundtune.data import load_report

    _print_report(card.name, load_report(name) or card.stats)


@app.command("export")
@handle_errors
def export_cmd(
    name: str = typer.Argument(..., help="Dataset name or folder."),
    out: Path = typer.Option(..., "--out", help="Folder to write <format>.<split>.jsonl into."),
    formats: list[str] = typer.Option(
        ["chat", "prompt_completion"], "--format", help="chat and/or prompt_completion."
    ),
) -> None:
    """Write the dataset as OpenAI chat JSONL (`messages`) and/or prompt/completion JSONL."""
    if remote.server():
        _export_remote(name, out, formats)
        return
    from groundtune.data import load_dataset, write_exports

    for path in write_exports(load_dataset(name), out, tuple(formats)):
        console.print(f"wrote {path}")


def _export_remote(name: str, out: Path, formats: list[str]) -> None:
    """Each split the server exports, as `<format>.<split>.jsonl` in `out`."""
    from groundtune.core.errors import NotFoundError

    client = remote.client()
    splits = [split for split, n in client.datasets.retrieve(name).splits.items() if n]
    out.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        for split in splits:
            try:
                text = client.datasets.export(name, fmt, split=split)
            except NotFoundError:
                continue
            path = out / f"{fmt}.{split}.jsonl"
            path.write_text(text, encoding="utf-8")
            console.print(f"wrote {path}")


@app.command("preview")
@handle_errors
def preview_cmd(
    name: str = typer.Argument(..., help="Dataset name or folder."),
    split: str = typer.Option("train", "--split"),
    index: int = typer.Option(0, "--index", min=0, help="Which example of the split."),
    example_id: str | None = typer.Option(None, "--id", help="Pick the example by id instead."),
    full: bool = typer.Option(False, "--full", help="Print documents in full."),
    tokens: bool = typer.Option(
        True, "--tokens/--no-tokens", help="Highlight trained tokens (loads the tokenizer)."
    ),
) -> None:
    """One example: relevant and distractor documents marked, trained tokens highlighted."""
    remote.local_only(
        "data preview", "page through GET /v1/datasets/NAME/examples (client.datasets.list_examples)"
    )
    from groundtune.core.errors import NotFoundError
    from groundtune.data import load_card, load_dataset
    from groundtune.data.preview import preview_example
    from groundtune.data.tokens import load_counter

    examples = load_dataset(name).get(split, [])
    picked = [ex for ex in examples if ex.id == example_id] if example_id else examples[index : index + 1]
    if not picked:
        raise NotFoundError(
            f"no example {example_id or index} in split '{split}' of '{name}' ({len(examples)} examples)",
            hint="pick another --index/--id or --split",
        )
    view = preview_example(picked[0], load_counter(load_card(name).lm) if tokens else None)
    console.print(
        f"[bold]{escape(view.example_id)}[/] ({view.split}) {'refusal' if view.refusal else 'answerable'}"
    )
    console.print(f"[bold]Question:[/] {escape(view.question)}")
    for doc in view.documents:
        mark = "[bold green]RELEVANT[/]" if doc.relevant else "[dim]distractor[/]"
        text = doc.text if full or len(doc.text) <= 300 else doc.text[:300] + " …"
        console.print(
            f"\n[{doc.number}] {mark} {escape(doc.title)}  [dim]{escape(doc.reason)} doc={escape(str(doc.doc_id))}[/]"
        )
        console.print(escape(text))
    console.print("\n[bold]Target[/] (trained tokens highlighted):")
    if view.pieces:
        shades = ("on dark_green", "on blue")
        out, i = [], 0
        for piece, trained in view.pieces:
            if trained:
                out.append(f"[{shades[i % 2]}]{escape(piece)}[/]")
                i += 1
        console.print("".join(out))
        console.print(
            f"[dim]{view.prompt_tokens} prompt tokens (not trained), {view.trained_tokens} trained tokens[/]"
        )
    else:
        console.print(escape(view.completion))


@app.command("corpus")
@handle_errors
def corpus_cmd(
    kind: str = typer.Argument(
        ..., help="nq_open_oracle, clapnq, squad2, quotesum, hotpotqa or rgb_counterfactual."
    ),
    path: Path = typer.Argument(..., help="The public release (file or folder)."),
    out: Path = typer.Option(
        ..., "--out", help="JSONL file of id/title/text records for `groundtune kb add`."
    ),
    split: str = typer.Option("dev", "--split", help="ClapNQ split."),
) -> None:
    """Write a public benchmark's corpus as records, so `kb add` gives documents the gold ids."""
    from groundtune.data.public import HELDOUT_KEY, load_public

    data = load_public(kind, path, split=split)
    written = data.write_corpus(out)
    held = sum(1 for p in data.pairs if p.meta[HELDOUT_KEY])
    console.print(
        f"wrote {len(data.corpus)} records to {written} ({len(data.pairs)} questions, {held} in the fixed "
        "held-out test part)"
    )
