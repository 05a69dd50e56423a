"""The platform's REST API: `create_platform_app(store, runner, home=..., api_keys_required=...)`."""

from groundtune.platform.api.app import create_platform_app

__all__ = ["create_platform_app"]
