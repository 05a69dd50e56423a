"""Screenshots of every web UI page for docs/ui.md, from a real run: a live `groundtune server` app
(uvicorn, the job runner, worker processes) on the tiny test models, driven through the whole flow by
the same tour the browser test takes (tests/ui/tour.py), in Debian's Chromium.

    python scripts/ui_screenshots.py            # writes docs/ui/*.png

The tiny models are random: their answers are noise, and the playground's cited answer comes from the
tour's extractive reader deployment (see tests/ui/tour.py). Everything else on the pages is real.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tour lives with the tests


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "ui", help="Folder for the PNG files.")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from groundtune.ui import install
    from tests.platform.api.live import LivePlatform
    from tests.ui.tour import Reader, Tour, chromium_path

    chromium = chromium_path()
    if chromium is None:
        sys.exit("chromium is not installed: make setup (apt-get install chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []

    def shot(name: str, page: Any) -> None:
        path = args.out / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path.name)
        print(f"wrote {path.relative_to(ROOT)}", flush=True)

    with tempfile.TemporaryDirectory() as tmp, Reader() as reader, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        with LivePlatform(Path(tmp) / "gt-home", extend=install) as live:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            tour = Tour(page, live.url, reader_url=reader.url, shot=shot)
            tour.knowledge_base()
            tour.upload()
            tour.search()
            tour.dataset()
            tour.fine_tune()
            tour.evaluate()
            tour.playground(live.http)
            tour.jobs()
            page.goto(live.url + "/signin")
            shot("signin", page)
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            for name, url in (
                ("phone-playground", "/playground?deployment=reader"),
                ("phone-dataset", "/datasets/sample"),
            ):
                phone.goto(live.url + url)
                phone.screenshot(path=str(args.out / f"{name}.png"), full_page=False)
                written.append(f"{name}.png")
        browser.close()
    print(f"{len(written)} screenshots in {args.out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
