"""`groundtune kb create | add | remove | list | show | search | reindex | delete`: a thin table over
`groundtune.kb` (imported inside each command so `--help` stays light)."""

from __future__ import annotations

import json
from typing import Any, cast

import typer
from rich.markup import escape
from rich.table import Table

from groundtune.cli import remote
from groundtune.cli.app import console, err_console, handle_errors, stage_bars
from groundtune.core.errors import InvalidInputError, NotFoundError

app = typer.Typer(
    help="Knowledge bases: ingest documents, search them, keep them up to date.", no_args_is_help=True
)


@app.command("create")
@handle_errors
def create_cmd(
    name: str = typer.Argument(..., help="Knowledge base name."),
    embedder: str = typer.Option("minilm-l6", help="Embedder registry name or path."),
    catalog_url: str | None = typer.Option(
        None, help="SQLAlchemy URL (default: SQLite file in the KB folder)."
    ),
    index_url: str | None = typer.Option(
        None, help="Qdrant server URL (default: local mode in the KB folder)."
    ),
    chunk_tokens: int = typer.Option(256, help="Chunk size in embedder tokens."),
    chunk_overlap: int = typer.Option(32, help="Overlap between chunks in tokens."),
    keep_versions: bool = typer.Option(
        False, help="Keep superseded versions searchable (latest_only=False)."
    ),
) -> None:
    """Create an empty knowledge base."""
    if remote.server():
        if catalog_url:
            raise InvalidInputError(
                "--catalog-url is set by the server's own settings", hint="drop --catalog-url with --server"
            )
        s = remote.client().knowledge_bases.create(
            name=name, embedder=embedder, index_url=index_url, chunk_tokens=chunk_tokens,
            chunk_overlap=chunk_overlap, keep_versions=keep_versions,
        ).settings  # fmt: skip
    else:
        from groundtune import kb

        s = kb.create(
            name,
            embedder=embedder,
            catalog_url=catalog_url,
            index_url=index_url,
            chunk_tokens=chunk_tokens,
            chunk_overlap=chunk_overlap,
            keep_versions=keep_versions,
        )
    console.print(
        f"[green]created[/] {s.name} ({s.id}): embedder {s.embedder}, {s.chunk_tokens}-token chunks"
    )


@app.command("add")
@handle_errors
def add_cmd(
    name: str = typer.Argument(...),
    paths: list[str] = typer.Argument(..., help="Files or directories (md, txt, html, pdf, jsonl, csv)."),
    id_field: str = typer.Option("id", help="Record id field (JSONL/CSV)."),
    title_field: str = typer.Option("title", help="Record title field."),
    text_field: str = typer.Option("text", help="Record text field."),
    tags_field: str | None = typer.Option(None, help="Record tags field."),
    tag: list[str] = typer.Option([], "--tag", help="Tag every added document (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Ingest files; unchanged files are skipped, changed ones become a new version."""
    if remote.server():
        if (id_field, title_field, text_field, tags_field) != ("id", "title", "text", None):
            raise InvalidInputError(
                "record field names cannot be changed for an upload to a server",
                hint="name the record fields id, title, text (and tags) in the files",
            )
        upload = remote.client().knowledge_bases.documents.upload(name, paths, tags=tag)
        _print_added(remote.wait(upload.job).artifact(), as_json)
        return
    from groundtune import kb

    with stage_bars() as bar:
        s = kb.add(
            name,
            paths,
            id_field=id_field,
            title_field=title_field,
            text_field=text_field,
            tags_field=tags_field,
            tags=tag,
            progress=bar,
        )
    _print_added(s, as_json)


def _print_added(s: Any, as_json: bool) -> None:
    if as_json:
        console.print_json(s.model_dump_json())
    else:
        console.print(
            f"[green]added[/] {len(s.added)}, [cyan]updated[/] {len(s.updated)}, unchanged "
            f"{len(s.unchanged)}, {s.chunks} chunks, [red]errors[/] {len(s.errors)} ({s.seconds:.1f}s)"
        )
        for e in s.errors:
            where = "" if e.message.startswith(e.source) else f"{e.source}: "
            hint = f" [yellow]({escape(e.hint)})[/]" if e.hint else ""
            err_console.print(f"[red]✗[/] {escape(where + e.message)}{hint}")
    if s.errors:
        # A file that could not be read is bad input (InvalidInputError's exit code), even when the
        # other files were stored: scripts must notice, and the summary above says what was kept.
        stored = len(s.added) + len(s.updated) + len(s.unchanged)
        if not as_json:
            err_console.print(
                f"{len(s.errors)} input(s) failed; the {stored} that could be read are stored"
                if stored
                else "nothing was stored"
            )
        raise typer.Exit(InvalidInputError.exit_code)


@app.command("remove")
@handle_errors
def remove_cmd(
    name: str = typer.Argument(...),
    targets: list[str] = typer.Argument(..., help="Document ids, file paths or sources."),
) -> None:
    """Remove documents (all versions) and their chunks."""
    if remote.server():
        s = _remove_remote(name, targets)
    else:
        from groundtune import kb

        s = kb.remove(name, targets)
    console.print(
        f"[green]removed[/] {len(s.removed)}" + (f", not found: {', '.join(s.missing)}" if s.missing else "")
    )
    if s.missing and not s.removed:
        raise typer.Exit(3)


def _remove_remote(name: str, targets: list[str]) -> Any:
    from groundtune.kb.ingest import RemoveSummary

    client, summary = remote.client(), RemoveSummary()
    client.knowledge_bases.retrieve(name)  # a missing KB is an error, not N missing documents
    for doc_id in targets:
        try:
            client.knowledge_bases.documents.delete(name, doc_id)
            summary.removed.append(doc_id)
        except NotFoundError:
            summary.missing.append(doc_id)
    return summary


@app.command("list")
@handle_errors
def list_cmd() -> None:
    """Knowledge bases in the workspace."""
    if remote.server():
        found = [kb.settings for kb in remote.client().knowledge_bases.list(limit=100)]
    else:
        from groundtune import kb

        found = kb.list_kbs()
    table = Table("name", "id", "embedder", "index", "catalog")
    for s in found:
        table.add_row(
            escape(s.name),
            s.id,
            escape(s.embedder),
            s.index_url or "local",
            "custom" if s.catalog_url else "sqlite",
        )
    console.print(table)


@app.command("show")
@handle_errors
def show_cmd(
    name: str = typer.Argument(...),
    documents: bool = typer.Option(False, "--documents", help="List the latest documents too."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Settings and counts of a knowledge base."""
    if remote.server():
        info = _show_remote(name, documents)
    else:
        from groundtune import kb

        info = kb.show(name, documents=documents)
    if as_json:
        console.print_json(json.dumps(info, default=str))
        return
    docs = info.pop("document_list", None)
    table = Table("setting", "value", show_header=False)
    for key, value in info.items():
        table.add_row(key, escape(str(value)))
    console.print(table)
    if docs:
        dt = Table("id", "v", "title", "source")
        for d in docs:
            dt.add_row(*(escape(str(d[k])) for k in ("id", "version", "title", "source")))
        console.print(dt)


def _show_remote(name: str, documents: bool) -> dict[str, Any]:
    client = remote.client()
    found = client.knowledge_bases.retrieve(name)
    info: dict[str, Any] = {
        **found.settings.model_dump(mode="json"),
        "documents": found.documents,
        "chunks": found.chunks,
        "generation": found.generation,
    }
    if found.busy:
        info["busy"] = found.busy
    if documents:
        info["document_list"] = [
            {"id": d.id, "version": d.version, "title": d.title, "source": d.source, "tags": d.tags}
            for d in client.knowledge_bases.documents.list(name, limit=100)
        ]
    return info


@app.command("search")
@handle_errors
def search_cmd(
    name: str = typer.Argument(...),
    query: str = typer.Argument(...),
    k: int = typer.Option(5, "-k", min=1),
    mode: str = typer.Option("hybrid", help="dense, sparse or hybrid."),
    rrf_k: float = typer.Option(60.0, help="Reciprocal-rank fusion constant."),
    doc_id: list[str] = typer.Option([], "--doc-id"),
    source: list[str] = typer.Option([], "--source"),
    tag: list[str] = typer.Option([], "--tag"),
    all_versions: bool = typer.Option(False, "--all-versions", help="Include superseded versions (if kept)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Search with THE retriever."""
    from groundtune.core.schemas import RetrievedChunk

    if mode not in ("dense", "sparse", "hybrid"):
        raise InvalidInputError(f"unknown mode '{mode}'", hint="use dense, sparse or hybrid")
    if remote.server():
        filters = {"doc_ids": doc_id, "sources": source, "tags": tag, "latest_only": not all_versions}
        retriever = {"mode": mode, "documents_per_prompt": k, "rrf_k": rrf_k, "filters": filters}
        results = remote.client().knowledge_bases.search(name, query, retriever=retriever).data
    else:
        from groundtune import kb

        hits = kb.search(
            name,
            query,
            k=k,
            mode=mode,  # type: ignore[arg-type]  # checked above
            rrf_k=rrf_k,
            doc_ids=doc_id,
            sources=source,
            tags=tag,
            latest_only=not all_versions,
        )
        assert all(isinstance(h, RetrievedChunk) for h in hits)  # one query -> one result list
        results = cast(list[RetrievedChunk], hits)
    if as_json:
        console.print_json(json.dumps([h.model_dump(mode="json") for h in results]))
        return
    table = Table("#", "score", "dense", "sparse", "title / heading", "text")
    for h in results:
        c = h.chunk
        table.add_row(
            str(h.rank),
            f"{h.score:.4f}",
            str(h.dense_rank or "-"),
            str(h.sparse_rank or "-"),
            escape(" › ".join(dict.fromkeys([c.title, *c.heading_path]))),
            escape(c.text[:160].replace("\n", " ")),
        )
    console.print(table)


@app.command("reindex")
@handle_errors
def reindex_cmd(
    name: str = typer.Argument(...),
    index_url: str | None = typer.Option(
        None, help="Rebuild into this Qdrant server ('local' = local mode)."
    ),
    embedder: str | None = typer.Option(None, help="Re-embed with another embedder."),
) -> None:
    """Rebuild the index from the catalog (same or another backend)."""
    remote.local_only("kb reindex", "run it on the server's machine")
    from groundtune import kb

    with stage_bars() as bar:
        out = kb.reindex(name, index_url=index_url, embedder=embedder, progress=bar)
    console.print(f"[green]reindexed[/] {out['chunks']} chunks into {out['index']} ({out['seconds']}s)")


@app.command("delete")
@handle_errors
def delete_cmd(
    name: str = typer.Argument(...), yes: bool = typer.Option(False, "--yes", help="Do not ask.")
) -> None:
    """Delete a knowledge base and its index."""
    if not yes:
        typer.confirm(f"delete knowledge base '{name}'?", abort=True)
    if remote.server():
        remote.client().knowledge_bases.delete(name)
    else:
        from groundtune import kb

        kb.delete(name)
    console.print(f"[green]deleted[/] {escape(name)}")
