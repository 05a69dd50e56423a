"""The UI in a browser without the long flow: keyboard navigation, and signing in with an API key
where the API requires keys (the key then carries the UI's own /v1 calls, writes only from the UI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from groundtune.ui import install
from tests.platform.api.live import LivePlatform
from tests.ui.conftest import NEEDS_BROWSER, UNLABELLED, Console
from tests.ui.tour import TINY_EMBEDDER


@NEEDS_BROWSER
def test_keyboard_reaches_the_content_and_every_page_is_labelled(browser: Any, tmp_path: Path) -> None:
    console = Console()
    with LivePlatform(tmp_path / "gt-home", extend=install) as live:
        page = console.watch(browser.new_page())
        page.goto(live.url + "/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.goto(live.url + "/")
        for _ in range(3):  # skip link, brand, then the first nav link
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('href')") == "/knowledge_bases"
        page.keyboard.press("Enter")
        page.wait_for_url("**/knowledge_bases")
        # a form filled and sent with the keyboard alone
        page.get_by_label("Name", exact=True).focus()
        page.keyboard.type("kb1")
        page.get_by_label("Embedder").fill(TINY_EMBEDDER)
        page.get_by_label("Embedder").press("Enter")
        page.wait_for_url("**/knowledge_bases/kb1")
        for path in ("/", "/knowledge_bases", "/knowledge_bases/kb1", "/datasets", "/datasets/new", "/fine_tuning",
                     "/fine_tuning/new", "/adapters", "/evaluations", "/evaluations/new", "/playground", "/jobs"):  # fmt: skip
            page.goto(live.url + path)
            assert page.evaluate(UNLABELLED) == [], path
        assert console.errors == []


@NEEDS_BROWSER
def test_sign_in_with_an_api_key_when_keys_are_required(browser: Any, tmp_path: Path) -> None:
    home = tmp_path / "gt-home"
    with LivePlatform(home, api_keys_required=True, extend=install) as live:
        secret, _ = live.store.create_api_key("analyst", ["write"])
        context = browser.new_context()
        page = context.new_page()
        page.goto(live.url + "/datasets")
        page.wait_for_url("**/signin?next=%2Fdatasets")
        page.get_by_label("API key").fill("gt-not-a-key")
        page.get_by_role("button", name="Sign in").click()
        assert "not valid" in page.get_by_role("alert").inner_text()
        page.get_by_label("API key").fill(secret)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/datasets")
        assert "analyst" in page.locator("header").inner_text()
        # the UI's own /v1 calls carry the signed-in key
        page.goto(live.url + "/knowledge_bases")
        page.get_by_label("Name", exact=True).fill("kb1")
        page.get_by_label("Embedder").fill(TINY_EMBEDDER)
        page.get_by_role("button", name="Create", exact=True).click()
        page.wait_for_url("**/knowledge_bases/kb1")
        # the cookie reads /v1, but writes only with the UI's header (a form elsewhere cannot send it)
        assert context.request.get(live.url + "/v1/knowledge_bases").status == 200
        refused = context.request.post(live.url + "/v1/knowledge_bases", data={"name": "kb2"})
        assert refused.status == 401
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/signin")
        page.goto(live.url + "/knowledge_bases")
        page.wait_for_url("**/signin?next=*")
        context.close()
