"""Adding, removing and re-indexing: user inputs (files, directories, records, `Document`s) become
new document versions written through `KnowledgeBase.write`, with a summary that lists what was
added, updated, unchanged and every per-file error (a bad file never stops the batch).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from groundtune.core.artifacts import AddSummary, FileError
from groundtune.core.errors import InvalidInputError
from groundtune.core.ids import content_hash
from groundtune.core.progress import Progress, ProgressEvent, event
from groundtune.core.schemas import Chunk, Document
from groundtune.kb import sparse as bm25
from groundtune.kb.chunker import ChunkTokenizer, chunk_document, index_text
from groundtune.kb.parsers import RECORD_SUFFIXES, file_doc_id, iter_files, make_document, parse_file
from groundtune.kb.records import RecordFields, parse_records

if TYPE_CHECKING:
    from groundtune.kb.knowledge_base import KnowledgeBase

Input = str | os.PathLike[str] | Document | Mapping[str, Any]


class RemoveSummary(BaseModel):
    removed: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    generation: int | None = None


def _as_inputs(inputs: Input | Iterable[Input]) -> list[Input]:
    if isinstance(inputs, str | os.PathLike | Document | Mapping):
        return [inputs]
    return list(inputs)


def collect(
    inputs: Input | Iterable[Input],
    fields: RecordFields,
    tags: Iterable[str],
    progress: Progress | None = None,
) -> tuple[list[Document], list[FileError]]:
    """Parse every input; errors are collected per file (or record), never raised."""
    docs: list[Document] = []
    errors: list[FileError] = []
    items = _as_inputs(inputs)
    files: list[Path | Input] = []
    for item in items:
        if isinstance(item, str | os.PathLike):
            files.extend(iter_files([item]))
        else:
            files.append(item)
    tags = list(tags)
    for n, item in enumerate(files, start=1):
        try:
            if isinstance(item, Document):
                docs.append(
                    make_document(
                        item.id,
                        item.source,
                        item.title,
                        item.text,
                        fmt=str(item.metadata.get("format", "text")),
                        tags=[*item.tags, *tags],
                        metadata=dict(item.metadata),
                    )
                )
            elif isinstance(item, Mapping):
                docs.append(_record(dict(item), fields, tags, n))
            elif Path(item).suffix.lower() in RECORD_SUFFIXES:
                got, bad = parse_records(Path(item), fields, tags)
                docs += got
                errors += [FileError(source=e.source, message=e.message, hint=e.hint) for e in bad]
            else:
                docs.append(parse_file(Path(item), tags))
        except InvalidInputError as exc:
            errors.append(FileError(source=str(item), message=exc.message, hint=exc.hint or ""))
        if progress:
            progress(event("parse", n, len(files)))
    seen: dict[str, int] = {}
    unique: list[Document] = []
    for doc in docs:
        if doc.id in seen:
            errors.append(
                FileError(
                    source=doc.source,
                    message=f"document id {doc.id!r} appears twice in this batch",
                    hint="give every record a unique id; the first one was kept",
                )
            )
            continue
        seen[doc.id] = len(unique)
        unique.append(doc)
    return unique, errors


def _record(row: dict[str, Any], fields: RecordFields, tags: list[str], n: int) -> Document:
    rid, text = row.get(fields.id_field), row.get(fields.text_field)
    if rid is None or not isinstance(text, str) or not text.strip():
        raise InvalidInputError(
            f"record {n} needs '{fields.id_field}' and non-empty '{fields.text_field}'",
            hint="fix the record or name its fields",
        )
    used = {fields.id_field, fields.text_field, fields.title_field, fields.tags_field, "source"}
    meta = {k: v for k, v in row.items() if k not in used and isinstance(v, str | int | float | bool)}
    raw = row.get(fields.tags_field) if fields.tags_field else None
    extra = raw if isinstance(raw, list) else [t.strip() for t in str(raw or "").split(";") if t.strip()]
    return make_document(
        str(rid),
        str(row.get("source") or f"record:{rid}"),
        str(row.get(fields.title_field) or rid),
        text,
        fmt="record",
        tags=[*tags, *map(str, extra)],
        metadata=meta,
    )


def add(
    kb: KnowledgeBase,
    inputs: Input | Iterable[Input],
    *,
    fields: RecordFields | None = None,
    tags: Iterable[str] = (),
    progress: Progress | None = None,
    batch_chunks: int = 2048,
) -> AddSummary:
    """Ingest inputs: unchanged documents are skipped, changed ones become a new version."""
    t0 = time.perf_counter()
    docs, errors = collect(inputs, fields or RecordFields(), tags, progress)
    summary = AddSummary(errors=errors)
    latest = kb.catalog.latest_versions(d.id for d in docs)
    counter = ChunkTokenizer(kb.embedder.tokenizer)
    planned: list[tuple[Document, list[Chunk]]] = []
    for i, doc in enumerate(docs, start=1):
        prev = latest.get(doc.id)
        if prev and prev[1] == doc.content_hash:
            summary.unchanged.append(doc.id)
            continue
        doc = doc.model_copy(update={"version": prev[0] + 1 if prev else 1})
        chunks = chunk_document(
            doc, counter, chunk_tokens=kb.settings.chunk_tokens, chunk_overlap=kb.settings.chunk_overlap
        )
        (summary.updated if prev else summary.added).append(doc.id)
        planned.append((doc, chunks))
        if progress:
            progress(event("chunk", i, len(docs)))
    total = sum(len(cs) for _, cs in planned)
    done = 0
    group: list[tuple[Document, list[Chunk]]] = []

    def flush() -> None:
        nonlocal done
        base = done

        def relay(e: ProgressEvent) -> None:
            if progress:
                progress(e.model_copy(update={"done": base + e.done, "total": total}))

        summary.generation = kb.write(group, progress=relay)
        done += sum(len(cs) for _, cs in group)
        group.clear()

    size = 0
    for item in planned:
        group.append(item)
        size += len(item[1])
        if size >= batch_chunks:
            flush()
            size = 0
    if group:
        flush()
    summary.chunks = total
    summary.seconds = time.perf_counter() - t0
    return summary


def resolve_targets(kb: KnowledgeBase, targets: Iterable[str]) -> tuple[list[str], list[str]]:
    """(document ids, unmatched targets) for ids, file paths or sources."""
    ids: list[str] = []
    missing: list[str] = []
    for t in targets:
        path = Path(t).expanduser()
        candidates = [t]
        if path.exists() or os.sep in t:
            candidates += [file_doc_id(path), *kb.catalog.doc_ids_for_sources([str(path.resolve())])]
        found = [c for c in dict.fromkeys(candidates) if c in kb.catalog.latest_versions([c])]
        ids += found
        if not found:
            missing.append(t)
    return list(dict.fromkeys(ids)), missing


def remove(kb: KnowledgeBase, targets: Iterable[str]) -> RemoveSummary:
    """Remove documents (every version) and their chunks from catalog and index."""
    ids, missing = resolve_targets(kb, targets)
    gen = kb.write([], removed=ids) if ids else None
    return RemoveSummary(removed=ids, missing=missing, generation=gen)


def reindex(
    kb: KnowledgeBase,
    *,
    index_url: str | None = None,
    embedder: str | None = None,
    progress: Progress | None = None,
    batch: int = 512,
) -> dict[str, Any]:
    """Rebuild the index from the catalog into a new collection (optionally another backend or
    embedder), recount term statistics, then switch the KB to it and drop the old collection."""
    from groundtune.kb.knowledge_base import open_index

    t0 = time.perf_counter()
    settings = kb.settings
    target_url = settings.index_url if index_url is None else (None if index_url == "local" else index_url)
    new_embedder = embedder or settings.embedder
    if new_embedder != settings.embedder:
        from groundtune.models import load_embedder

        kb._embedder = load_embedder(new_embedder)
    dim = int(kb.embedder.dim)
    collection = f"{settings.id}_{content_hash(str(time.time_ns()), length=8)}"
    new_settings = settings.model_copy(
        update={
            "index_url": target_url,
            "embedder": new_embedder,
            "dim": dim,
            "collection": collection,
            "purge_lag": settings.purge_lag if target_url == settings.index_url else (1 if target_url else 0),
        }
    )
    same_backend = target_url == settings.index_url
    with kb._write_lock:
        state = kb.catalog.state()
        index = kb.index.sibling(collection) if same_backend else open_index(kb.path, new_settings)
        if index.exists():
            index.drop()
        index.create(dim, mirror=new_settings.local_search == "mirror")
        scheme = settings.sparse
        df: Counter[int] = Counter()
        lengths = []
        latest_ids = set(kb.catalog.chunk_ids(True))
        for chunk in kb.chunks(latest_only=True):
            cnt, n = bm25.term_counts(index_text(chunk), scheme)
            df.update(cnt.keys())
            lengths.append(n)
        avgdl = max(sum(lengths) / len(lengths), 1.0) if lengths else None
        every = list(kb.chunks(latest_only=not settings.keep_versions))
        for start in range(0, len(every), batch):
            part = every[start : start + batch]
            texts = [index_text(c) for c in part]
            vecs = kb.embedder.encode(texts, batch_size=32)
            sparse = [bm25.document_vector(*bm25.term_counts(t, scheme), avgdl or 1.0, scheme) for t in texts]
            index.upsert(part, vecs, sparse, state.generation, retired=[c.id not in latest_ids for c in part])
            if progress:
                progress(event("reindex", start + len(part), len(every)))
        kb.catalog.reset_stats(df, len(lengths), avgdl)
        from groundtune.kb.settings import save_settings

        save_settings(kb.path, new_settings)
        old, kb.index, kb.settings = kb.index, index, new_settings
        with kb._cond:
            kb._epoch += 1
            epoch = kb._epoch
            kb._cond.wait_for(lambda: all(e >= epoch for e in kb._readers.values()), timeout=30)
        old.drop()
        if not same_backend:
            old.close()
    return {
        "collection": collection,
        "index": target_url or "qdrant local mode",
        "embedder": new_embedder,
        "chunks": len(every),
        "seconds": round(time.perf_counter() - t0, 2),
    }
