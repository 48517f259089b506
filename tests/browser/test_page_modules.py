"""How the page's JavaScript is laid out: api.js alone knows the API's paths, and every module it imports is served.

The first two tests read the files only (no browser, no server); the last asks the live app for each file.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from serving.routes.ui import ASSET_NAME, MEDIA_TYPES

STATIC = Path(__file__).resolve().parents[2] / "serving" / "static"
MODULES = sorted(STATIC.glob("*.js"))
API_MODULE = "api.js"
# `import ... from "./name.js"` and `import "./name.js"`: the page's modules import each other by relative URL.
IMPORT = re.compile(r"""^\s*import\s+(?:[^'"]*?\s+from\s+)?["']([^"']+)["']""", re.MULTILINE)


def test_only_api_module_names_api_paths() -> None:
    counts = {p.name: p.read_text(encoding="utf-8").count("/v1/") for p in MODULES}
    offenders = {name: n for name, n in counts.items() if name != API_MODULE and n}

    assert (STATIC / API_MODULE).read_text(encoding="utf-8").count("/v1/") > 0
    assert not offenders, f"URL paths of the API belong in {API_MODULE} only (call its functions): {offenders}"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_modules_import_only_served_sibling_files(module: Path) -> None:
    imported = IMPORT.findall(module.read_text(encoding="utf-8"))

    for spec in imported:
        assert spec.startswith("./"), f"{module.name} imports {spec!r}: only sibling files (same origin, no CDN)"
        name = spec.removeprefix("./")
        assert (STATIC / name).is_file(), f"{module.name} imports {name}, which is not in serving/static"
        assert ASSET_NAME.fullmatch(name) and Path(name).suffix in MEDIA_TYPES, f"{name} would not be served"


def test_every_page_file_is_served_with_its_type(live_server: str) -> None:
    for path in sorted(p for p in STATIC.iterdir() if p.is_file()):
        response = httpx.get(f"{live_server}/static/{path.name}")

        assert response.status_code == 200, path.name
        assert response.headers["content-type"] == MEDIA_TYPES[path.suffix], path.name
        assert response.content == path.read_bytes(), path.name
