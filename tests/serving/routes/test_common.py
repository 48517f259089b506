"""Language of every explained answer: ``lang`` first, then ``Accept-Language``, Chinese by default."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.routes.common import choose_lang

CJK = re.compile(r"[\u3400-\u9fff]")
RECORD = {"age": 58, "sex": "male", "occupation": "herder", "systolic_bp": 150}


def is_english(text: str) -> bool:
    """No Chinese characters, and at most a few non-ASCII symbols (°, –, ×)."""
    return not CJK.search(text) and sum(not c.isascii() for c in text) <= max(2, len(text) // 50)


# route -> (method, path, query, body, role, explanation getter)
Explained = Callable[[dict[str, Any]], dict[str, Any]]
ROUTES: dict[str, tuple[str, str, dict[str, str], dict[str, Any] | None, str, Explained]] = {
    "grazing": ("GET", "/v1/grazing/assessment/G001", {}, None, "planner", lambda b: b["explanation"]),
    "market": (
        "GET",
        "/v1/market/forecast",
        {"township_id": "T01", "species": "sheep"},
        None,
        "planner",
        lambda b: b["price"][0]["explanation"],
    ),
    "dispute": ("GET", "/v1/dispute/risk/G002", {}, None, "planner", lambda b: b["explanation"]),
    "disease": (
        "POST",
        "/v1/disease/score",
        {},
        {"records": [RECORD]},
        "health",
        lambda b: b["results"][0]["risks"][0]["explanation"],
    ),
}


@pytest.fixture
def ask(client: TestClient, auth: Any) -> Callable[..., dict[str, Any]]:
    """``ask(route, params=..., headers=...)``: the route's explanation, after checking it answered 200."""

    def call(route: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        method, path, query, body, role, explanation = ROUTES[route]
        response = client.request(
            method, path, params={**query, **(params or {})}, json=body, headers={**auth(role), **(headers or {})}
        )
        assert response.status_code == 200, response.text
        return explanation(response.json())

    return call


@pytest.mark.parametrize("route", ROUTES)
def test_lang_en_gives_an_english_sentence_and_labels(ask: Any, route: str) -> None:
    explanation = ask(route, params={"lang": "en"})

    assert is_english(explanation["sentence"]), explanation["sentence"]
    assert all(is_english(r["label"]) and is_english(r["text"]) for r in explanation["reasons"])


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"lang": "zh"}, None),
        (None, {"Accept-Language": "zh-CN,zh;q=0.9"}),
        (None, None),
        ({"lang": "zh"}, {"Accept-Language": "en-US"}),
    ],
    ids=["lang-zh", "accept-language-zh-CN", "default", "lang-beats-header"],
)
@pytest.mark.parametrize("route", ROUTES)
def test_chinese_sentence_and_labels_by_lang_header_or_default(
    ask: Any, route: str, params: dict[str, str] | None, headers: dict[str, str] | None
) -> None:
    explanation = ask(route, params=params, headers=headers)

    assert CJK.search(explanation["sentence"]), explanation["sentence"]
    assert all(CJK.search(r["label"]) for r in explanation["reasons"])


@pytest.mark.parametrize("route", ROUTES)
def test_same_request_in_both_languages_differs_only_in_words(ask: Any, route: str) -> None:
    en = ask(route, params={"lang": "en"})
    zh = ask(route, headers={"Accept-Language": "zh-CN"})

    assert en["sentence"] != zh["sentence"]
    assert [r["feature"] for r in en["reasons"]] == [r["feature"] for r in zh["reasons"]]
    assert [r["label"] for r in en["reasons"]] != [r["label"] for r in zh["reasons"]]
    assert [r["contribution"] for r in en["reasons"]] == [r["contribution"] for r in zh["reasons"]]
    assert en["raw_prediction"] == zh["raw_prediction"]


def test_accept_language_preferring_english_gives_english(ask: Any) -> None:
    explanation = ask("dispute", headers={"Accept-Language": "en-GB,en;q=0.8,zh;q=0.5"})

    assert is_english(explanation["sentence"]), explanation["sentence"]


@pytest.mark.parametrize(
    ("lang", "header", "expected"),
    [
        (None, None, "zh"),
        ("en", None, "en"),
        (None, "en", "en"),
        (None, "EN-us", "en"),
        (None, "bo-CN", "zh"),
        ("zh", "en", "zh"),
        (None, "", "zh"),
    ],
)
def test_choose_lang(lang: Any, header: str | None, expected: str) -> None:
    assert choose_lang(lang, header) == expected
