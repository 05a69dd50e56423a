"""`client.evaluations`: run one (an `evaluation` job over an EvalConfig), list the reports, retrieve
one as JSON or as its HTML page, and page through one suite's per-item records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from groundtune.core.artifacts import EvalReport
from groundtune.core.configs import EvalConfig
from groundtune.core.resources import EvalItem
from groundtune.core.schemas import EvalRecord
from groundtune.sdk._transport import DEFAULT, Call, Route, model
from groundtune.sdk.jobs import AsyncJob, Job
from groundtune.sdk.pagination import AsyncPager, SyncPage
from groundtune.sdk.resources._base import AsyncResource, SyncResource, body, text

CREATE = Route("POST", "/v1/evaluations")
LIST = Route("GET", "/v1/evaluations")
RETRIEVE = Route("GET", "/v1/evaluations/{eval_id}")
HTML = Route("GET", "/v1/evaluations/{eval_id}/report.html")
ITEMS = Route("GET", "/v1/evaluations/{eval_id}/items")
ITEM = Route("GET", "/v1/evaluations/{eval_id}/items/{example_id}")


class Evaluations(SyncResource):
    @CREATE
    def create(
        self,
        config: EvalConfig | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
        **fields: Any,
    ) -> Job:
        """Queue an evaluation: base (few-shot) and each adapter on every suite. The finished job's
        `resource` is the evaluation id."""
        return self._job(CREATE, body(EvalConfig, config, fields), idempotency_key, timeout)

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> SyncPage[EvalReport]:
        return self._page(LIST, EvalReport, params={"after": after, "limit": limit}, timeout=timeout)

    @RETRIEVE
    def retrieve(self, eval_id: str, *, timeout: Any = DEFAULT) -> EvalReport:
        return self._request(
            Call(RETRIEVE, parse=model(EvalReport), path={"eval_id": eval_id}, timeout=timeout)
        )

    @HTML
    def report_html(self, eval_id: str, *, timeout: Any = DEFAULT) -> str:
        """The report as the self-contained HTML page (tables and plots)."""
        return self._request(Call(HTML, parse=text, path={"eval_id": eval_id}, timeout=timeout))

    @ITEMS
    def list_items(
        self,
        eval_id: str,
        *,
        suite: str | None = None,
        system: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        timeout: Any = DEFAULT,
    ) -> SyncPage[EvalRecord]:
        """One suite's per-item records of one system (defaults: the first of each)."""
        return self._page(
            ITEMS,
            EvalRecord,
            path={"eval_id": eval_id},
            params={"suite": suite, "system": system, "after": after, "limit": limit},
            timeout=timeout,
        )

    @ITEM
    def retrieve_item(
        self, eval_id: str, example_id: str, *, suite: str | None = None, timeout: Any = DEFAULT
    ) -> EvalItem:
        """One item: question, documents, gold answer and every system's reply with its quotes located."""
        return self._request(
            Call(
                ITEM,
                parse=model(EvalItem),
                path={"eval_id": eval_id, "example_id": example_id},
                params={"suite": suite},
                timeout=timeout,
            )
        )


class AsyncEvaluations(AsyncResource):
    @CREATE
    async def create(
        self,
        config: EvalConfig | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        timeout: Any = DEFAULT,
        **fields: Any,
    ) -> AsyncJob:
        return await self._job(CREATE, body(EvalConfig, config, fields), idempotency_key, timeout)

    @LIST
    def list(
        self, *, after: str | None = None, limit: int | None = None, timeout: Any = DEFAULT
    ) -> AsyncPager[EvalReport]:
        return AsyncPager(
            lambda: self._page(LIST, EvalReport, params={"after": after, "limit": limit}, timeout=timeout)
        )

    @RETRIEVE
    async def retrieve(self, eval_id: str, *, timeout: Any = DEFAULT) -> EvalReport:
        return await self._request(
            Call(RETRIEVE, parse=model(EvalReport), path={"eval_id": eval_id}, timeout=timeout)
        )

    @HTML
    async def report_html(self, eval_id: str, *, timeout: Any = DEFAULT) -> str:
        return await self._request(Call(HTML, parse=text, path={"eval_id": eval_id}, timeout=timeout))

    @ITEMS
    def list_items(
        self,
        eval_id: str,
        *,
        suite: str | None = None,
        system: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        timeout: Any = DEFAULT,
    ) -> AsyncPager[EvalRecord]:
        return AsyncPager(
            lambda: self._page(
                ITEMS,
                EvalRecord,
                path={"eval_id": eval_id},
                params={"suite": suite, "system": system, "after": after, "limit": limit},
                timeout=timeout,
            )
        )

    @ITEM
    async def retrieve_item(
        self, eval_id: str, example_id: str, *, suite: str | None = None, timeout: Any = DEFAULT
    ) -> EvalItem:
        return await self._request(
            Call(
                ITEM,
                parse=model(EvalItem),
                path={"eval_id": eval_id, "example_id": example_id},
                params={"suite": suite},
                timeout=timeout,
            )
        )
