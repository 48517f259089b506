"""The page's weight and speed: bytes transferred and seconds from pressing "enter" with a key to a fully
coloured county map, and what a language switch fetches; the page as it was (a git revision's
``serving/static``) beside the page of this tree. Figures, not asserts (targets: <= 1 s, <= 250 KB).

Serves the county and champions the settings point at (``make run``'s ``state/`` by default, or
``--work DIR``; ``--train`` first trains fast-enough grazing and dispute champions of the sample county into
a temporary work dir, ~2 min) under uvicorn on 127.0.0.1 with a made-up planner key, and drives Debian's
chromium through Playwright. Both pages talk to the same service; the old page's files are served from
``git show REV:serving/static/...`` by pointing the page route at a temporary copy.

    .venv/bin/python benchmarks/page_weight.py [--before 432741e] [--runs 3] [--train | --work DIR]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
BEFORE = "432741e"  # the last commit with the page that colours the map from explained batch answers
TIME_TARGET_S = 1.0
BYTES_TARGET = 250_000
QUIET_MS = 600  # no request in flight for this long: the page has fetched what it wanted
PAINTED = '#county-map[data-painted="pressure-warm"]'


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Load:
    seconds: float = 0.0
    bytes: int = 0
    requests: int = 0
    json_bytes: int = 0
    switch_bytes: int = 0
    switch_requests: int = 0
    paths: list[str] = field(default_factory=list)


def old_static(rev: str, into: Path) -> Path:
    """The page files of git revision ``rev`` written into ``into``."""
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{rev}:serving/static"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    for name in names:
        blob = subprocess.run(["git", "show", f"{rev}:serving/static/{name}"], cwd=ROOT, capture_output=True)
        if blob.returncode == 0:  # a folder (vendor/) is not a page file
            (into / name).write_bytes(blob.stdout)
    return into


def wait_quiet(page: Any, inflight: set[Any], quiet_ms: int = QUIET_MS) -> None:
    """Until no request has been in flight for ``quiet_ms``."""
    calm_since = time.monotonic()
    while (time.monotonic() - calm_since) * 1000 < quiet_ms:
        page.wait_for_timeout(50)
        if inflight:
            calm_since = time.monotonic()


def measure(browser: Any, url: str, key: str) -> Load:
    """One sign-in to a coloured map, then a language switch, in a fresh browser context."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    context.route(lambda u: urlparse(u).hostname not in ("127.0.0.1", "localhost"), lambda r: r.abort())
    page = context.new_page()
    finished: list[tuple[float, str, int, int]] = []  # (time, path, transferred bytes, body bytes)
    inflight: set[Any] = set()

    def done(request: Any) -> None:
        inflight.discard(request)
        sizes = request.sizes()
        transferred = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        finished.append((time.perf_counter(), urlparse(request.url).path, transferred, sizes["responseBodySize"]))

    page.on("request", lambda r: inflight.add(r))
    page.on("requestfinished", done)
    page.on("requestfailed", lambda r: inflight.discard(r))
    page.goto(url)
    page.wait_for_selector("#key-input")
    wait_quiet(page, inflight)
    page.fill("#key-input", key)
    finished.clear()
    start = time.perf_counter()
    page.click("#login")
    page.wait_for_selector(PAINTED, timeout=120_000)
    drawn = time.perf_counter()
    until = [f for f in finished if f[0] <= drawn]
    load = Load(
        seconds=drawn - start,
        bytes=sum(f[2] for f in until),
        requests=len(until),
        json_bytes=sum(f[3] for f in until if f[1].startswith("/v1/")),
        paths=[f[1] for f in until],
    )
    wait_quiet(page, inflight)
    finished.clear()
    page.click("[data-lang=en]")
    page.wait_for_timeout(100)
    wait_quiet(page, inflight)
    load.switch_bytes = sum(f[2] for f in finished)
    load.switch_requests = len(finished)
    context.close()
    return load


def summarise(name: str, loads: list[Load]) -> dict[str, Any]:
    med = statistics.median
    return {
        "page": name,
        "s to map": med(x.seconds for x in loads),
        "KB to map": med(x.bytes for x in loads) / 1000,
        "JSON KB": med(x.json_bytes for x in loads) / 1000,
        "requests": med(x.requests for x in loads),
        "lang switch KB": med(x.switch_bytes for x in loads) / 1000,
        "lang switch requests": med(x.switch_requests for x in loads),
    }


def train_fast(work: Path) -> None:
    """Grazing and dispute champions of the sample county (the YAML's parameters, one LightGBM thread)."""
    from muzhang.paths import SAMPLE_COUNTY
    from muzhang.settings import get_settings
    from training.pipeline import run_training

    settings = get_settings(work_dir=work, data_dir=SAMPLE_COUNTY, county_source="directory")
    for family in ("grazing", "dispute"):
        t = time.perf_counter()
        summary = run_training(family, settings, tune=0, overrides={"lightgbm.num_threads": 1}, log=lambda m: None)
        progress(f"trained {family} in {time.perf_counter() - t:.0f} s (champion: {summary.promoted})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=BEFORE, help=f"git revision of the page as it was ({BEFORE}).")
    parser.add_argument("--runs", type=int, default=3, help="Sign-ins per page; medians are printed (3).")
    parser.add_argument("--work", type=Path, help="Work dir with the champions (default: the settings').")
    parser.add_argument("--train", action="store_true", help="Train grazing and dispute into a temp dir first.")
    args = parser.parse_args()

    from muzhang.settings import STORE_ENV_VARS

    for name in STORE_ENV_VARS:
        os.environ.pop(name, None)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from playwright.sync_api import sync_playwright

    import serving.routes.ui as ui
    from muzhang.paths import SAMPLE_COUNTY
    from muzhang.settings import get_settings
    from serving.live import serve_county, with_keys

    key = secrets.token_urlsafe(24)
    rows = []
    with tempfile.TemporaryDirectory(prefix="muzhang-page-") as tmp:
        work = args.work
        if args.train:
            work = Path(tmp) / "work"
            train_fast(work)
        overrides: dict[str, Any] = {"work_dir": work, "data_dir": SAMPLE_COUNTY} if work else {}
        settings = with_keys(
            get_settings(**overrides), {"planner": key}, name="bench", audit_log=Path(tmp) / "audit.jsonl"
        )
        (Path(tmp) / "static-before").mkdir()
        before_dir = old_static(args.before, Path(tmp) / "static-before")
        current_dir = ui.STATIC_DIR
        with serve_county(settings) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for name, static in ((f"before ({args.before})", before_dir), ("now", current_dir)):
                ui.STATIC_DIR = static
                measure(browser, url, key)  # warm-up: the service's first answers build its caches
                loads = [measure(browser, url, key) for _ in range(args.runs)]
                rows.append(summarise(name, loads))
                progress(f"{name}: {loads[-1].requests} requests to the map: {sorted(set(loads[-1].paths))}")
            ui.STATIC_DIR = current_dir
            browser.close()
    heads = list(rows[0])
    print(f"page weight, sample county, medians of {args.runs} sign-ins (load average {os.getloadavg()[0]:.1f})")
    print(" | ".join(heads))
    for row in rows:
        print(" | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row.values()))
    now = rows[-1]
    print(
        f"targets: map drawn <= {TIME_TARGET_S} s: {'PASS' if now['s to map'] <= TIME_TARGET_S else 'FAIL'}; "
        f"<= {BYTES_TARGET / 1000:.0f} KB transferred: {'PASS' if now['KB to map'] * 1000 <= BYTES_TARGET else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
