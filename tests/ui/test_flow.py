"""The whole flow in a real browser (Debian's Chromium through Playwright) against a live server with
a real job runner, on the tiny models: upload the sample documents, build a dataset, train and watch
the job finish live, evaluate, open an item, ask in the playground and follow a citation to its
highlighted span (tests/ui/tour.py does the steps). No page logs a JavaScript error, every control is
labelled, and every page visited fits a 390 px wide screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from groundtune.ui import install
from tests.platform.api.live import LivePlatform
from tests.ui.conftest import NEEDS_BROWSER, UNLABELLED, Console
from tests.ui.tour import Reader, Tour


@NEEDS_BROWSER
def test_whole_flow_in_the_browser(browser: Any, tmp_path: Path) -> None:
    console = Console()
    with Reader() as reader, LivePlatform(tmp_path / "gt-home", extend=install) as live:
        wide = browser.new_context(viewport={"width": 1280, "height": 900})
        page = console.watch(wide.new_page())
        tour = Tour(page, live.url, reader_url=reader.url)
        tour.knowledge_base()
        tour.upload()
        # the deliberately refused upload is answered 400, which Chromium logs; nothing else may log
        refused = [e for e in console.errors if "status of 400" in e]
        assert len(refused) == 1 and console.errors == refused, console.errors
        console.errors.clear()
        tour.search()
        tour.dataset()
        tour.fine_tune()
        tour.evaluate()
        tour.playground(live.http)
        tour.jobs()
        assert console.errors == []
        assert reader.prompts, "the citation came from a reply to a prompt groundtune rendered"
        wide.close()

        narrow = browser.new_context(viewport={"width": 390, "height": 844})
        small = console.watch(narrow.new_page())
        for url in dict.fromkeys(tour.visited):
            small.goto(url)
            small.wait_for_load_state("networkidle")
            width = small.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{url} is {width} px wide at 390 px"
            assert small.evaluate(UNLABELLED) == [], url
        assert console.errors == []
        narrow.close()
