"""A generation backend that calls any OpenAI-compatible `/v1/chat/completions` server (vLLM,
groundtune's own server, a hosted API) with the same `generate(requests)` interface as `Engine`.

Each prompt is sent as one user message, after its history's (user, assistant) messages; the server
applies its chat template. A request's `adapter` becomes the `model` field (how vLLM and groundtune
serve LoRA adapters by name), else the backend's `model`. Requests run with bounded concurrency;
429/503 answers are retried after their `Retry-After`. It knows nothing about models, tokenizers or
the grounding format.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from groundtune.core.errors import (
    AuthenticationError,
    DeadlineError,
    GroundtuneError,
    InvalidInputError,
    NotFoundError,
    UnavailableError,
)
from groundtune.infer.request import GenerationRequest, GenerationResult, Progress

_RETRY_STATUSES = (429, 503)


class OpenAIBackend:
    """Chat completions over HTTP; `concurrency` requests in flight at most."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        model: str = "default",
        *,
        concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 3,
    ) -> None:
        import httpx

        if concurrency < 1:
            raise InvalidInputError("concurrency must be at least 1", hint="use e.g. --concurrency 8")
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model = model
        self.concurrency = concurrency
        self.max_retries = max_retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def payload(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body sent for `request`."""
        cfg = request.config
        body: dict[str, Any] = {
            "model": request.adapter or self.model,
            "messages": [
                *(
                    {"role": role, "content": text}
                    for user, reply in request.history
                    for role, text in (("user", user), ("assistant", reply))
                ),
                {"role": "user", "content": request.prompt},
            ],
            "max_tokens": cfg.max_new_tokens,
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
        }
        if cfg.stop:
            body["stop"] = list(cfg.stop)
        if cfg.seed is not None:
            body["seed"] = cfg.seed
        return body

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        url = f"{self.base_url}/chat/completions"
        for attempt in range(self.max_retries + 1):
            try:
                response = self._client.post(url, json=body)
            except httpx.TimeoutException as exc:
                raise DeadlineError(
                    f"{url} did not answer in time", hint="raise timeout_s or lower concurrency"
                ) from exc
            except httpx.HTTPError as exc:
                raise UnavailableError(
                    f"cannot reach {url}: {exc}", hint="check that the server is running and base_url"
                ) from exc
            if response.status_code in _RETRY_STATUSES and attempt < self.max_retries:
                time.sleep(_retry_after(response, attempt))
                continue
            if response.status_code >= 400:
                raise _error_for(response, url)
            data: dict[str, Any] = response.json()
            return data
        raise AssertionError("unreachable")  # the loop either returns or raises

    def _one(self, request: GenerationRequest) -> GenerationResult:
        start = time.perf_counter()
        data = self._post(self.payload(request))
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
            reason = choice.get("finish_reason") or "stop"
        except (KeyError, IndexError, TypeError) as exc:
            raise UnavailableError(
                f"{self.base_url} answered without choices[0].message.content",
                hint="point base_url at an OpenAI-compatible chat completions server",
            ) from exc
        usage = data.get("usage") or {}
        return GenerationResult(
            text=text,
            finish_reason="length" if reason == "length" else "stop",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            latency_s=time.perf_counter() - start,
        )

    def generate(
        self, requests: list[GenerationRequest], progress: Progress | None = None
    ) -> list[GenerationResult]:
        """Complete every request (in order); `progress` gets 1 per finished request."""

        def run(request: GenerationRequest) -> GenerationResult:
            result = self._one(request)
            if progress is not None:
                with self._lock:
                    progress(1)
            return result

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(run, requests))


def _retry_after(response: Any, attempt: int) -> float:
    try:
        return min(float(response.headers.get("retry-after", "")), 30.0)
    except ValueError:
        return min(0.5 * 2**attempt, 8.0)


def _error_for(response: Any, url: str) -> GroundtuneError:
    try:
        detail = response.json().get("error", {}).get("message") or response.text
    except ValueError:
        detail = response.text
    status = response.status_code
    message = f"{url} answered {status}: {str(detail)[:300]}"
    if status == 401 or status == 403:
        return AuthenticationError(message, hint="pass the server's api_key")
    if status == 404:
        return NotFoundError(message, hint="check base_url and that the model or adapter name is served")
    if status < 500:
        return InvalidInputError(message, hint="check the request settings against the server's limits")
    return UnavailableError(message, hint="the server failed; see its log")
