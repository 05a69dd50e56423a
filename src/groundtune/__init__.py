"""groundtune: context-grounded fine-tuning.

Importing the package is light (no torch); heavy libraries load inside the functions that use them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("groundtune")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
