"""The web UI: server-rendered pages for every platform resource, on the API's own app and port.

Pages call the same functions as the `/v1` routes (platform/api) and their templates receive the
same `core` models, so each page has a JSON twin at the API; what a page changes (create, upload,
train, cancel, ask) its small vendored scripts send to `/v1` itself. Nothing is fetched from a CDN
and there is no build step. `groundtune server` mounts it with `install`.
"""

from __future__ import annotations

from groundtune.ui.app import install

__all__ = ["install"]
