"""`client.datasets`: build one (a `dataset` job over a BuildConfig), list the cards, retrieve one,
page through a split's examples (documents marked oracle or distractor), export a split as JSONL,
delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from groundtune.core.artifacts import DatasetCard
from groundtune.core.configs import BuildConfig
from groundtune.core.resources import Deleted, ExamplePreview
from groundtune.sdk._transport import DEFAULT, Call, Route, model
from groundtune.sdk.jobs import AsyncJob, Job
from groundtune.sdk.pagination import AsyncPager, SyncPage
from groundtune.sdk.resources._base import AsyncResource, SyncResource, body, text

CREATE = Route("POST", "/v1/datasets")
LIST = Route("GET", "/v1/datasets")
RETRIEVE = Route("GET", "/v1/datasets/{name}")
DELETE = Route("DELETE", "/v1/datasets/{name}")
EXAMPLES = Route("GET", "/v1/datasets/{name}/examples")
EXPORT = Route("GET", "/v1/datasets/{name}/exports/{fmt}")

Split = Literal["train", "validation", "test"]
Format = Literal["chat", "prompt_completion"]


def _examples(name: str, split: Split, tokens: bool, after: str | None, limit: int | None) -> dict[str, Any]:
    return {
        "path": {"name": name},
        "params": {"split": split, "tokens": str(tokens).lower(), "after": after, "limit": limit},
    }


class Datasets(SyncResource):
    @CREATE
    def create(
        self,
        config: BuildConfig | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
        **fields: Any,
    ) -> Job:
        """Queue a dataset build; QA sources may name uploaded files by id. `.wait()` on the job."""
        return self._job(CREATE, body(BuildConfig, config, fields), idempotency_key, timeout)

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[DatasetCard]:
        return self._page(LIST, DatasetCard, params={"after": after, "limit": limit}, timeout=timeout)

    @RETRIEVE
    def retrieve(self, name: str, *, timeout: Any = DEFAULT) -> DatasetCard:
        return self._request(Call(RETRIEVE, parse=model(DatasetCard), path={"name": name}, timeout=timeout))

    @DELETE
    def delete(self, name: str, *, timeout: Any = DEFAULT) -> Deleted:
        return self._request(Call(DELETE, parse=model(Deleted), path={"name": name}, timeout=timeout))

    @EXAMPLES
    def list_examples(
        self,
        name: str,
        *,
        split: Split = "train",
        tokens: bool = False,
        after: str | None = None,
        limit: int | None = None,
        timeout: Any = DEFAULT,
    ) -> SyncPage[ExamplePreview]:
        """A split's examples; `tokens=True` also splits each into prompt and trained tokens."""
        return self._page(
            EXAMPLES, ExamplePreview, timeout=timeout, **_examples(name, split, tokens, after, limit)
        )

    @EXPORT
    def export(
        self, name: str, fmt: Format = "chat", *, split: Split = "train", timeout: Any = DEFAULT
    ) -> str:
        """One split as JSONL text: OpenAI chat format or prompt/completion."""
        return self._request(
            Call(
                EXPORT, parse=text, path={"name": name, "fmt": fmt}, params={"split": split}, timeout=timeout
            )
        )


class AsyncDatasets(AsyncResource):
    @CREATE
    async def create(
        self,
        config: BuildConfig | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
        **fields: Any,
    ) -> AsyncJob:
        return await self._job(CREATE, body(BuildConfig, config, fields), idempotency_key, timeout)

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncPager[DatasetCard]:
        return AsyncPager(
            lambda: self._page(LIST, DatasetCard, params={"after": after, "limit": limit}, timeout=timeout)
        )

    @RETRIEVE
    async def retrieve(self, name: str, *, timeout: Any = DEFAULT) -> DatasetCard:
        return await self._request(
            Call(RETRIEVE, parse=model(DatasetCard), path={"name": name}, timeout=timeout)
        )

    @DELETE
    async def delete(self, name: str, *, timeout: Any = DEFAULT) -> Deleted:
        return await self._request(Call(DELETE, parse=model(Deleted), path={"name": name}, timeout=timeout))

    @EXAMPLES
    def list_examples(
        self,
        name: str,
        *,
        split: Split = "train",
        tokens: bool = False,
        after: str | None = None,
        limit: int | None = None,
        timeout: Any = DEFAULT,
    ) -> AsyncPager[ExamplePreview]:
        return AsyncPager(
            lambda: self._page(
                EXAMPLES, ExamplePreview, timeout=timeout, **_examples(name, split, tokens, after, limit)
            )
        )

    @EXPORT
    async def export(
        self, name: str, fmt: Format = "chat", *, split: Split = "train", timeout: Any = DEFAULT
    ) -> str:
        return await self._request(
            Call(
                EXPORT, parse=text, path={"name": name, "fmt": fmt}, params={"split": split}, timeout=timeout
            )
        )
