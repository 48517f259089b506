"""Screenshots of the page for the docs: the map with a grid's explanation, and the health view.

Serves the county and champions the environment points at (``MUZHANG_WORK_DIR``, ``MUZHANG_DATA_DIR``;
the sample county with the models of ``make run`` by default) with two made-up keys, on a free port of
127.0.0.1, and drives Debian's chromium:

    MUZHANG_WORK_DIR=work .venv/bin/python tests/browser/take_screenshots.py --out docs

Not a test (pytest does not collect it); nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import secrets
import time
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Route, sync_playwright

from muzhang.settings import get_settings

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"), help="Folder for the PNG files.")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    keys = {"planner": secrets.token_urlsafe(24), "health": secrets.token_urlsafe(24)}
    audit = args.out / ".screenshot-audit.jsonl"
    from serving.live import serve_county, with_keys

    settings = with_keys(get_settings(), keys, name="screenshot", audit_log=audit)
    outside: list[str] = []

    def block(route: Route) -> None:
        outside.append(route.request.url)
        route.abort()

    try:
        with serve_county(settings) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height}, locale="zh-CN")
            page.context.route(
                lambda u: urlparse(u).hostname not in ("127.0.0.1", "localhost"),
                block,
            )
            page.goto(url)
            page.fill("#key-input", keys["planner"])
            started = time.perf_counter()
            page.click("#login")
            page.wait_for_selector("#county-map path.grid")
            drawn = time.perf_counter() - started
            page.wait_for_selector('#county-map[data-painted="pressure-warm"]', timeout=60_000)
            painted = time.perf_counter() - started
            # The grid with the highest dispute risk: its panel shows both explanations.
            page.click("#tabs [data-view=watch]")
            page.locator(".watchlist tr.pick").first.click()
            page.locator("[data-testid=dispute] .explanation").wait_for()
            page.mouse.move(args.width * 0.3, args.height * 0.55)
            page.screenshot(path=str(args.out / "screenshot-map.png"))
            page.click("#logout")
            page.fill("#key-input", keys["health"])
            page.click("#login")
            page.click("#health-samples")
            page.click("#health-score")
            page.locator("#health-results article.person").first.wait_for()
            page.screenshot(path=str(args.out / "screenshot-health.png"), full_page=True)
            page.click("#logout")
            browser.close()
    finally:
        audit.unlink(missing_ok=True)
    print(f"map drawn {drawn:.2f} s and coloured {painted:.2f} s after the key; screenshots in {args.out}/")
    if outside:
        raise SystemExit(f"the page requested other hosts: {outside}")


if __name__ == "__main__":
    main()
