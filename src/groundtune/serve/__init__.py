"""Grounded serving: an OpenAI-compatible `/v1/chat/completions` that retrieves with THE retriever,
renders with THE grounding format, generates through `infer`, and answers with citations or refuses.
"""

from groundtune.serve.deployment import Deployment, Limits

__all__ = ["Deployment", "Limits"]
