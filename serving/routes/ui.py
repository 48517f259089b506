"""The one-screen web page (no key needed to load it; it then calls /v1 with the key the user enters).

Plain HTML, CSS and JavaScript modules from ``serving/static``: no build step and nothing fetched from
another host (the Content-Security-Policy says so to the browser too).
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# Everything the page uses comes from this app; inline scripts and styles are not needed either.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

# Checked before the file system is touched; a name that breaks it is "not found", like any missing file.
ASSET_NAME = re.compile(r"[A-Za-z0-9_-]+\.[a-z]{2,4}")

router = APIRouter(include_in_schema=False)


def _static(name: str) -> FileResponse:
    path = STATIC_DIR / name
    media_type = MEDIA_TYPES.get(path.suffix)
    if not ASSET_NAME.fullmatch(name) or media_type is None or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no page asset {name!r}")
    return FileResponse(path, media_type=media_type, headers=SECURITY_HEADERS)


@router.get("/")
def index() -> FileResponse:
    """The county dashboard page."""
    return _static("index.html")


@router.get("/static/{name}")
def static_asset(name: str) -> FileResponse:
    """A file of the page (flat folder: :data:`ASSET_NAME` leaves no way out of it; any other name is a 404)."""
    return _static(name)
