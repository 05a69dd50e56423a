"""The serving stage's one entry: `run(DeploymentConfig) -> Deployment`, everything a server needs
loaded (`server.serve` adds HTTP). Loading reports no progress events yet; the argument is there so
every stage is called alike."""

from __future__ import annotations

from pathlib import Path

from groundtune.core.configs import DeploymentConfig
from groundtune.core.progress import Progress
from groundtune.serve.deployment import Deployment


def run(
    config: DeploymentConfig, *, home: str | Path | None = None, progress: Progress | None = None
) -> Deployment:
    """Load the base model, adapters and knowledge base `config` names."""
    from groundtune.serve.server import build_deployment

    return build_deployment(
        config.model,
        config.adapters,
        config.kb,
        calibrations=config.calibrations,
        engine=config.engine,
        vllm_url=config.vllm_url,
        max_batch=config.max_batch,
        max_queue=config.max_queue,
        timeout_s=config.timeout_s,
        home=home,
        retriever_config=config.retriever,
        strict=config.strict,
    )
