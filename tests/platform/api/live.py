"""The platform app under a real uvicorn server on a free loopback port, with a real LocalRunner
(worker subprocesses) over a real store, for the end-to-end tests."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from groundtune.core.artifacts import TERMINAL_STATES
from tests.serve.live import free_port


class LivePlatform:
    def __init__(
        self,
        home: Path,
        db: str | None = None,
        *,
        api_keys_required: bool = False,
        extend: Any = None,
        runner: bool = True,
    ) -> None:
        import uvicorn

        from groundtune.platform.api import create_platform_app
        from groundtune.platform.jobs.runner import LocalRunner
        from groundtune.platform.store import Store

        self.home = home
        self.store = Store(db, home=home)
        self.runner = (
            LocalRunner(self.store, home, max_workers=1) if runner else None
        )  # None: jobs stay queued
        app = create_platform_app(self.store, self.runner, home=home, api_keys_required=api_keys_required)
        if extend is not None:  # what `groundtune server` adds on the same app (the web UI)
            extend(app, api_keys_required)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.http = httpx.Client(base_url=self.url, timeout=120)

    def __enter__(self) -> LivePlatform:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        if self.runner is not None:
            self.runner.stop(wait=True, timeout=60)
        self.http.close()
        self.store.close()

    def wait(self, job_id: str, timeout: float = 600) -> dict[str, Any]:
        """Poll the job over HTTP until it is finished; its last state as JSON."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.http.get(f"/v1/jobs/{job_id}").json()
            if job["state"] in TERMINAL_STATES:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['state']} after {timeout}s")
            time.sleep(0.3)
