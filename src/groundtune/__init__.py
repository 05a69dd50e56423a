"""groundtune: context-grounded fine-tuning.

Importing the package is light (no torch); heavy libraries load inside the functions that use them.
`Client` and `AsyncClient` (the SDK of the platform API, groundtune.sdk) load on first use.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("groundtune")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

if TYPE_CHECKING:
    from groundtune.sdk import AsyncClient, Client

__all__ = ["AsyncClient", "Client", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Client", "AsyncClient"):
        from groundtune import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'groundtune' has no attribute {name!r}")
