"""Start a grounded server: load the model and adapters, open the knowledge base, run uvicorn.

`build_deployment` is what tests and the quickstart use in-process; `serve` adds the HTTP server
and the rule that a server bound beyond loopback must have an API key.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from groundtune.core.adapters import resolve_adapter
from groundtune.core.configs import RetrieverConfig, default_serving_retriever
from groundtune.core.errors import InvalidInputError
from groundtune.models import DEFAULT_LM
from groundtune.serve.calibrations import NO_ENTROPIES, choose
from groundtune.serve.deployment import Deployment, Limits

API_KEY_ENV = "GROUNDTUNE_API_KEY"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_deployment(
    model: str = DEFAULT_LM,
    adapters: dict[str, str] | None = None,
    kb: str | None = None,
    *,
    calibrations: Sequence[str] = (),
    engine: Literal["inprocess", "vllm"] = "inprocess",
    vllm_url: str | None = None,
    max_batch: int = 8,
    max_queue: int = 32,
    timeout_s: float = 120.0,
    limits: Limits | None = None,
    home: str | Path | None = None,
    retriever_config: RetrieverConfig | None = None,
    constrained: bool = True,
    strict: bool = False,
    documents_per_prompt: int | None = None,
) -> Deployment:
    """Load everything a server needs; `adapters` maps served names to adapter names or folders,
    `calibrations` names the calibration an adapter abstains with (else it gets its latest).

    Each adapter retrieves with the retriever its training data was built with, unless
    `retriever_config` sets one for every model; an adapter whose recorded base model, prompt
    layout or retriever differs from what it is served with gets a warning, or with `strict` is
    refused (ConflictError). `documents_per_prompt` changes only how many documents every model
    retrieves. `constrained` decodes within the grounding grammar (the in-process engine only)."""
    refs = {name: resolve_adapter(ref, home, name=name) for name, ref in (adapters or {}).items()}
    chosen = choose(refs, calibrations, home)
    if engine == "vllm" and chosen:
        # vLLM's OpenAI API returns no per-token entropies, so nothing could ever be judged unsure:
        # say so instead of holding back streams for an abstention that never fires.
        warnings.warn(NO_ENTROPIES, stacklevel=2)
    knowledge_base = None
    if kb is not None:
        from groundtune.kb import open_kb

        knowledge_base = open_kb(kb, home=home)
    fixed = retriever_config is not None
    if retriever_config is None and knowledge_base is not None:
        retriever_config = _retriever_config_from(refs.values())
    recorded = {
        name: ref.manifest.retriever.config
        for name, ref in refs.items()
        if ref.manifest.retriever is not None and ref.manifest.retriever.config is not None
    }
    if documents_per_prompt is not None:
        shown = {"documents_per_prompt": documents_per_prompt}
        recorded = {name: config.model_copy(update=shown) for name, config in recorded.items()}
        if retriever_config is not None:
            retriever_config = retriever_config.model_copy(update=shown)
    base_layout = None  # known in-process; a vLLM server is given the layout's own chat template
    if engine == "vllm":
        backend: Any = _vllm_backend(model, refs, vllm_url, home)
        scheduler = None
    else:
        from groundtune.infer import BatchScheduler, Engine

        backend = Engine.load(
            model, adapters={n: r.path for n, r in refs.items()}, home=home, batch_size=max_batch
        )
        scheduler = BatchScheduler(backend, max_queue=max_queue)
        base_layout = backend.layout.to_dict()
    try:
        return Deployment(
            backend,
            base_name=model,
            adapters=refs,
            kb=knowledge_base,
            retriever_config=retriever_config,
            limits=limits,
            scheduler=scheduler,
            timeout_s=timeout_s,
            calibrations=chosen,
            abstention_off=NO_ENTROPIES if engine == "vllm" else None,
            home=home,
            adapter_retrievers={} if fixed else recorded,
            base_layout=base_layout,
            strict=strict,
            retriever_fixed=fixed,
            constrained=constrained,
        )
    except BaseException:  # a refused adapter (strict) must not leave the KB locked or a worker running
        if scheduler is not None:
            scheduler.close()
        if knowledge_base is not None:
            knowledge_base.close()
        raise


def _retriever_config_from(refs: Any) -> RetrieverConfig:
    """The base model's retriever: the first adapter's training retriever (so a base-vs-tuned
    comparison sees the same documents), else the default recipe's (hybrid, 4 documents)."""
    for ref in refs:
        if ref.manifest.retriever is not None and ref.manifest.retriever.config is not None:
            return ref.manifest.retriever.config
    return default_serving_retriever()


def _vllm_backend(model: str, refs: dict[str, Any], url: str | None, home: Any) -> Any:
    from groundtune.infer import OpenAIBackend

    if url is None:
        from groundtune.models import load_lm
        from groundtune.models.layout import chat_template
        from groundtune.serve.vllm import launch_vllm, vllm_command

        lm = load_lm(model, home)
        template = Path(tempfile.mkdtemp(prefix="gt-vllm-")) / "template.jinja"
        template.write_text(chat_template(lm.layout))
        port = 8100
        url = f"http://127.0.0.1:{port}"
        cmd = vllm_command(
            lm.path or model,
            {n: r.path for n, r in refs.items()},
            port=port,
            chat_template=template,
            served_name=model,
        )
        launch_vllm(cmd, url)
    return OpenAIBackend(url, model=model)


def serve(
    deployment: Deployment,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    log_level: str = "info",
) -> None:
    """Run the HTTP server until interrupted."""
    import uvicorn

    from groundtune.serve.app import create_app

    api_key = api_key or os.environ.get(API_KEY_ENV) or None
    if not is_loopback(host) and not api_key:
        raise InvalidInputError(
            f"binding to {host} exposes the server beyond this machine without an API key",
            hint=f"pass --api-key or set {API_KEY_ENV}, or bind to 127.0.0.1",
        )
    uvicorn.run(create_app(deployment, api_key=api_key), host=host, port=port, log_level=log_level)
