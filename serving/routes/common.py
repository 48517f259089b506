"""What the routers share that is about HTTP: the answer's language from query or header, an upload's bytes, a
month in a path, and the county store (503 without one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Header, Query, UploadFile

from serving.errors import TooMany, Unavailable
from serving.explain import Lang

if TYPE_CHECKING:
    from serving.deps import AppState

MONTH_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])$"  # the catalog's months start in 2000


def choose_lang(lang: Lang | None, accept_language: str | None) -> Lang:
    """Chinese unless asked otherwise, by ``lang`` or by an ``Accept-Language`` that prefers English."""
    if lang is not None:
        return lang
    if accept_language:
        first = accept_language.split(",")[0].strip().lower()
        if first.startswith("en"):
            return "en"
    return "zh"


async def resolve_lang(
    lang: Annotated[Lang | None, Query(description="zh (default) or en; else Accept-Language decides.")] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Lang:
    """The answer's language (async: a dependency this cheap should not take a threadpool hop)."""
    return choose_lang(lang, accept_language)


LangDep = Annotated[Lang, Depends(resolve_lang)]


async def read_upload(file: UploadFile, limit: int) -> bytes:
    """An uploaded file's bytes, read no further than ``limit`` (one byte more tells it is too large)."""
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise TooMany(f"file: larger than {limit:,} bytes")
    return content


def county_store(state: AppState) -> Any:
    """The county store the service keeps reports in; 503 when it reads a county directory instead."""
    if state.store is None:
        raise Unavailable("this service reads a county directory, not a store: reports cannot be kept")
    return state.store
