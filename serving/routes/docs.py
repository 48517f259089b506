"""The API documentation (Swagger UI at /docs, ReDoc at /redoc) from files vendored in this package.

FastAPI's default pages load their scripts, styles and fonts from public CDNs and so fail offline; these
load ``swagger-ui-dist`` and ``redoc`` from ``serving/static/vendor`` (versions and licences in vendor/docs-assets.md).
Each page's Content-Security-Policy allows its own origin and the hash of its one inline script, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

VENDOR_DIR = Path(__file__).resolve().parent.parent / "static" / "vendor"
ASSET_PREFIX = "/docs/vendor"
# URL name -> (file under VENDOR_DIR, media type). A fixed table: no request path reaches the file system.
ASSETS: dict[str, tuple[str, str]] = {
    "swagger-ui-bundle.js": ("swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui/swagger-ui.css", "text/css; charset=utf-8"),
    "favicon.png": ("swagger-ui/favicon-32x32.png", "image/png"),
    "redoc.standalone.js": ("redoc/redoc.standalone.js", "text/javascript; charset=utf-8"),
}
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
TITLE = "Muzhang 牧长"

router = APIRouter(include_in_schema=False)


def docs_csp(html: str) -> str:
    """A CSP for a docs page: scripts from this origin plus the page's own inline scripts (by hash); the
    libraries set inline styles, and ReDoc runs its search in a worker made from a blob."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode("ascii") + "'"
        for s in INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ).replace("'self' ;", "'self';")


def _page(response: HTMLResponse) -> HTMLResponse:
    html = bytes(response.body).decode("utf-8")
    return HTMLResponse(html, headers={"Content-Security-Policy": docs_csp(html), "Cache-Control": "no-cache"})


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on this service's OpenAPI document."""
    return _page(
        get_swagger_ui_html(
            openapi_url=str(request.app.openapi_url),
            title=f"{TITLE} - Swagger UI",
            swagger_js_url=f"{ASSET_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSET_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{ASSET_PREFIX}/favicon.png",
            oauth2_redirect_url=OAUTH2_REDIRECT,
            swagger_ui_parameters={"validatorUrl": None},  # else a badge image is fetched from another host
        )
    )


@router.get(OAUTH2_REDIRECT)
def swagger_ui_oauth2_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page (kept for completeness: the API uses bearer keys)."""
    return _page(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc on this service's OpenAPI document (no web fonts: the system's own)."""
    return _page(
        get_redoc_html(
            openapi_url=str(request.app.openapi_url),
            title=f"{TITLE} - ReDoc",
            redoc_js_url=f"{ASSET_PREFIX}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSET_PREFIX}/favicon.png",
            with_google_fonts=False,
        )
    )


@router.get(f"{ASSET_PREFIX}/{{name}}")
def docs_asset(name: str) -> FileResponse:
    """A vendored file of the docs pages (only the names in :data:`ASSETS`; anything else is a 404)."""
    if name not in ASSETS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no docs asset {name!r}")
    file, media_type = ASSETS[name]
    return FileResponse(VENDOR_DIR / file, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})
