"""Lists that page themselves: a `SyncPage` is the API's `Page` (core.artifacts) — `data`, `has_more`,
`first_id`, `last_id` — and iterating it walks every item of every following page, fetching each
page when it is reached (`after` = the previous page's `last_id`). `AsyncPage` does the same with
`async for`; an async `list()` returns an `AsyncPager`, awaited for the first page or iterated for
every item."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, TypeVar

from pydantic import PrivateAttr

from groundtune.core.artifacts import Page

T = TypeVar("T")


class SyncPage(Page[T]):
    """One page; `for item in page` goes on through the following pages."""

    _fetch: Callable[[str | int], SyncPage[T]] | None = PrivateAttr(default=None)

    def next_page(self) -> SyncPage[T] | None:
        """The page after this one (None on the last)."""
        if not self.has_more or self.last_id is None or self._fetch is None:
            return None
        return self._fetch(self.last_id)

    def iter_pages(self) -> Iterator[SyncPage[T]]:
        page: SyncPage[T] | None = self
        while page is not None:
            yield page
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:  # type: ignore[override]
        for page in self.iter_pages():
            yield from page.data


class AsyncPage(Page[T]):
    """One page; `async for item in page` goes on through the following pages."""

    _fetch: Callable[[str | int], Awaitable[AsyncPage[T]]] | None = PrivateAttr(default=None)

    async def next_page(self) -> AsyncPage[T] | None:
        if not self.has_more or self.last_id is None or self._fetch is None:
            return None
        return await self._fetch(self.last_id)

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        page: AsyncPage[T] | None = self
        while page is not None:
            yield page
            page = await page.next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item


class AsyncPager(Awaitable[AsyncPage[T]]):
    """What an async `list()` returns: `await` it for the first page, `async for` over it for all items."""

    def __init__(self, first: Callable[[], Awaitable[AsyncPage[T]]]) -> None:
        self._first = first

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._first().__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        page = await self._first()
        async for item in page:
            yield item
