"""A real uvicorn server on a free loopback port over a tiny-model deployment (helpers for tests)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from groundtune.serve.app import create_app
from groundtune.serve.deployment import Deployment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningServer:
    def __init__(self, deployment: Deployment, api_key: str | None = None) -> None:
        import uvicorn

        self.deployment = deployment
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(deployment, api_key=api_key), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def deployment_for(adapters: dict[str, Path], kb: str | None = None, **kw) -> Deployment:
    from groundtune.serve.server import build_deployment

    return build_deployment("tiny-random-gemma3", {n: str(p) for n, p in adapters.items()}, kb, **kw)
