"""`after` / `limit` / `has_more` over lists the store does not page itself (knowledge bases,
documents, datasets, examples, adapters, evaluations, deployments): the caller sorts, this cuts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import Query

from groundtune.core.artifacts import Page
from groundtune.core.errors import InvalidInputError

T = TypeVar("T")

After = Query(None, description="Id of the last item of the previous page (its `last_id`).")
Limit = Query(20, ge=1, le=100, description="Items per page (1-100).")


def page(items: Sequence[T], key: Callable[[T], Any], after: str | None, limit: int) -> Page[T]:
    """The page of `items` (already in list order) following the item whose key is `after`."""
    start = 0
    if after is not None:
        keys = [str(key(item)) for item in items]
        if after not in keys:
            raise InvalidInputError(
                f"after={after!r} is not an item of this list",
                hint="pass the `last_id` of the previous page, or leave `after` out",
                param="after",
            )
        start = keys.index(after) + 1
    chunk = list(items[start : start + limit])
    return Page[T](
        data=chunk,
        has_more=start + limit < len(items),
        first_id=key(chunk[0]) if chunk else None,
        last_id=key(chunk[-1]) if chunk else None,
    )
