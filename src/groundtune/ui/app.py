"""Mounting the UI on the platform app: the templates, the page router (a page's error is an error
page, not JSON), the vendored assets at `/assets`, and the sign-in pages and middleware."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from groundtune import __version__
from groundtune.core.errors import GroundtuneError
from groundtune.platform.api.context import Platform
from groundtune.ui import session

HERE = Path(__file__).resolve().parent
NAV = (
    ("/knowledge_bases", "Knowledge bases"),
    ("/datasets", "Datasets"),
    ("/fine_tuning", "Fine-tuning"),
    ("/adapters", "Adapters"),
    ("/evaluations", "Evaluations"),
    ("/playground", "Playground"),
    ("/jobs", "Jobs"),
)


def _when(value: Any) -> str:
    """Unix seconds or an ISO string as `YYYY-MM-DD HH:MM:SS` UTC ('' for None)."""
    if value is None or value == "":
        return ""
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(value).replace("T", " ").removesuffix("Z").split(".")[0]


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 10):
        return f"{int(value):,}"
    return f"{value:.{digits}f}"


def _pretty(value: Any) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return json.dumps(value, indent=2, default=str)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, num=_num, pretty=_pretty, urlencode_dict=urlencode)
    env.globals.update(nav=NAV, version=__version__)
    return env


ENV = _environment()


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page: `template` with the request, whether sign-in is on, and the page's own context."""
    page = ENV.get_template(template).render(
        request=request,
        path=request.url.path,
        signed_in=request.scope.get("state", {}).get("ui_key"),
        sign_in=request.app.state.ui_sign_in,
        **context,
    )
    return HTMLResponse(page, status_code=status)


class PageRoute(APIRoute):
    """A page route: an error from the service call is rendered as the error page with its status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except GroundtuneError as exc:
                return render(request, "error.html", status=exc.status, error=exc, title="Error")

        return page


def page_router() -> APIRouter:
    return APIRouter(route_class=PageRoute, include_in_schema=False)


def json_script(value: Any) -> Markup:
    """`value` as JSON safe inside <script type="application/json">."""
    text = json.dumps(value.model_dump(mode="json") if hasattr(value, "model_dump") else value, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


ENV.filters["json_script"] = json_script

signin = page_router()


@signin.get("/signin")
def signin_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "signin.html", title="Sign in", next=_local(next))


@signin.post("/signin")
async def signin_submit(request: Request, key: str = Form(""), next: str = Form("/")) -> Response:
    store = platform_of(request).store
    valid = await run_in_threadpool(store.verify_api_key, key.strip()) if key.strip() else None
    if valid is None:
        return render(
            request,
            "signin.html",
            status=401,
            title="Sign in",
            next=_local(next),
            problem="That key is not valid (or was revoked). Create one with "
            "`groundtune server keys create --name NAME --scope write`.",
        )
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        session.COOKIE,
        key.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=60 * 60 * 24 * 30,
    )
    return response


@signin.post("/signout")
def signout(request: Request) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(session.COOKIE)
    return response


def _local(target: str) -> str:
    """Only a path on this server is a place to go back to after signing in."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def install(app: FastAPI, api_keys_required: bool) -> None:
    """Add the UI to the platform app `app` (made by `create_platform_app`): pages at `/`, assets at
    `/assets`; with `api_keys_required` every page needs a signed-in key, as the API needs one."""
    from groundtune.ui.pages import ROUTERS

    platform: Platform = app.state.platform
    app.state.ui_sign_in = api_keys_required
    app.mount("/assets", StaticFiles(directory=HERE / "static"), name="ui-assets")
    app.include_router(signin)
    for pages in ROUTERS:
        app.include_router(pages)
    app.add_middleware(session.SignIn, store=platform.store, required=api_keys_required)
