"""Search filters (`core.configs.SearchFilters`: document ids, sources, tags, latest version only) and the generation rule that
decides which index points a search at catalog generation G may see.

A point carries `gen_added`, `gen_retired` and `gen_deleted`. At generation G it is visible when
gen_added <= G < gen_deleted, and it is the latest version when also G < gen_retired. Writers
stamp new points with the next generation and retire old ones before the catalog commits that
generation, so a search sees exactly one version of each document at every instant.
"""

from __future__ import annotations

from typing import Any

from groundtune.core.configs import SearchFilters

__all__ = ["NEVER", "SearchFilters", "qdrant_filter"]

NEVER = 2**62  # gen_retired / gen_deleted of a point that is still live


def qdrant_filter(generation: int, filters: SearchFilters) -> Any:
    """The Qdrant `Filter` for a search at `generation` (server and local mode alike)."""
    from qdrant_client import models as qm

    must: list[Any] = [
        qm.FieldCondition(key="gen_added", range=qm.Range(lte=generation)),
        qm.FieldCondition(key="gen_deleted", range=qm.Range(gt=generation)),
    ]
    if filters.latest_only:
        must.append(qm.FieldCondition(key="gen_retired", range=qm.Range(gt=generation)))
    for key, values in (("doc_id", filters.doc_ids), ("source", filters.sources), ("tags", filters.tags)):
        if values:
            must.append(qm.FieldCondition(key=key, match=qm.MatchAny(any=list(values))))
    return qm.Filter(must=must)
