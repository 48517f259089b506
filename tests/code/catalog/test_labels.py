"""Feature labels: every built feature has plain words in both languages, and values read as sentences."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from features import CountyTables, FeatureSet, build_features
from features.disease import FLAGS as DISEASE_FLAGS
from muzhang.catalog import load_catalog
from muzhang.catalog.labels import (
    FeatureLabels,
    Lang,
    describe,
    feature_label,
    format_value,
    load_feature_labels,
    parse_feature_labels,
)
from muzhang.families import family_names
from muzhang.paths import SAMPLE_COUNTY
from muzhang.simulate.county import generate_county

FAMILIES = family_names()  # the built-in families (the registry at collection time)
CJK = re.compile(r"[\u4e00-\u9fff]")
LANGS: tuple[Lang, ...] = ("en", "zh")
CALENDAR_FLAGS = ("moving_season", "festival_window", "target_festival")


@pytest.fixture(scope="module")
def built() -> dict[str, FeatureSet]:
    """Every family built on 30 generated grids, 2015-2018."""
    tables = CountyTables.from_mapping(generate_county(3, n_grids=30, last_month="2018-12-01").tables)
    return {family: build_features(family, tables) for family in FAMILIES}


@pytest.fixture(scope="module")
def labels() -> FeatureLabels:
    return load_feature_labels()


def _raw_yaml() -> dict[str, Any]:
    text = resources.files("muzhang.catalog").joinpath("features.yaml").read_text("utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    return raw


def _yaml_with(change: dict[str, Any], feature: str = "disputes_sum3") -> str:
    """The shipped YAML with one feature's entry changed (a value of None drops the key)."""
    raw = _raw_yaml()
    entry = next(f for f in raw["features"] if f["name"] == feature)
    entry.update(change)
    raw["features"] = [{k: v for k, v in f.items() if v is not None} for f in raw["features"]]
    return yaml.safe_dump(raw, allow_unicode=True)


# --- Coverage: every feature the builders make ----------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_every_feature_of_the_family_has_labels_in_both_languages(
    built: dict[str, FeatureSet], labels: FeatureLabels, family: str
) -> None:
    missing = [name for name in built[family].features if labels.get(name) is None]
    assert missing == [], f"{family} features without an entry in features.yaml"
    for name in built[family].features:
        assert feature_label(name, "en") != name
        assert CJK.search(feature_label(name, "zh")), f"{name}: label_zh is not Chinese"


def test_no_entry_for_a_feature_no_family_builds(built: dict[str, FeatureSet], labels: FeatureLabels) -> None:
    used = {name for fs in built.values() for name in fs.features}
    assert sorted(set(labels.names) - used) == []


@pytest.mark.parametrize("family", FAMILIES)
def test_every_category_of_every_categorical_feature_has_labels(
    built: dict[str, FeatureSet], labels: FeatureLabels, family: str
) -> None:
    for name, vocabulary in built[family].categorical.items():
        entry = labels.get(name)
        assert entry is not None and entry.categories is not None, f"{name} has no category labels"
        assert sorted(set(vocabulary) - set(entry.categories)) == [], f"{name}: categories without labels"
        for value in vocabulary:
            assert CJK.search(entry.categories[value].zh), f"{name}={value}: zh label is not Chinese"


def test_zero_one_features_are_labelled_with_true_and_false_phrases(
    built: dict[str, FeatureSet], labels: FeatureLabels
) -> None:
    flags = {e.name for e in labels.features if e.kind == "flag"}
    assert {*DISEASE_FLAGS, *CALENDAR_FLAGS} <= flags
    for fs in built.values():
        for name in flags & set(fs.features):
            assert set(fs.frame[name].dropna().unique().tolist()) <= {0, 1}, f"{name} is not 0/1"


def test_phrases_hold_the_value_placeholder_where_a_value_is_shown(labels: FeatureLabels) -> None:
    for entry in labels.features:
        for lang in LANGS:
            if entry.kind == "flag":
                for key in ("phrase_true", "phrase_false"):
                    assert "{value}" not in (entry.text(key, lang) or "{value}"), f"{entry.name}.{key}"
            else:
                assert "{value}" in (entry.text("phrase", lang) or ""), f"{entry.name}: phrase in {lang}"


def test_sources_are_catalog_fields(labels: FeatureLabels) -> None:
    fields = {f.name for f in load_catalog().fields}
    unknown = {e.name: sorted(set(e.source) - fields) for e in labels.features if set(e.source) - fields}
    assert unknown == {}


def test_township_labels_match_the_sample_county_townships(labels: FeatureLabels) -> None:
    townships = pd.read_csv(SAMPLE_COUNTY / "townships.csv")
    entry = labels.get("township_id")
    assert entry is not None and entry.categories is not None
    expected = {
        row.township_id: (f"{row.township_name} {row.kind}", row.township_name_zh) for row in townships.itertuples()
    }
    assert {k: (v.en, v.zh) for k, v in entry.categories.items()} == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_describe_reads_every_built_value_and_a_missing_one(built: dict[str, FeatureSet], family: str) -> None:
    frame = built[family].frame
    for name in built[family].features:
        known = frame[name].dropna()
        for value in (known.iloc[0], known.iloc[-1], np.nan):
            for lang in LANGS:
                text = describe(name, value, lang)
                assert text and "{" not in text, f"{name}={value!r} in {lang}: {text!r}"


# --- Wording -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "en", "zh"),
    [
        (
            "neighbour_disputes_sum3",
            4,
            "neighbouring grids recorded 4 disputes in the last 3 months",
            "近3个月相邻网格发生纠纷4起",
        ),
        (
            "neighbour_disputes_sum3",
            1.0,
            "neighbouring grids recorded 1 dispute in the last 3 months",
            "近3个月相邻网格发生纠纷1起",
        ),
        ("disputes_sum6", 0, "the grid recorded no dispute in the last 6 months", "近6个月本网格未发生纠纷"),
        (
            "water_source",
            "open_stream",
            "the person's drinking water comes from an open stream",
            "此人饮用水为河溪明水",
        ),
        ("plays_with_dogs", 1, "the person plays with or handles dogs", "此人常与犬只玩耍或接触"),
        ("plays_with_dogs", 0.0, "the person does not play with or handle dogs", "此人不与犬只玩耍或接触"),
        ("township_id", "T01", "it is in Jimai town", "所在乡镇为吉迈镇"),
        (
            "rest_status_last",
            "grazing_ban",
            "last month the grid was under a grazing ban",
            "上月网格处于禁牧状态",
        ),
        (
            "pasture_type",
            "swamp_meadow",
            "the grid's pasture is mainly swamp meadow",
            "网格草地以沼泽草甸为主",
        ),
        (
            "stocking_su_last",
            1150.8,
            "the grid held 1,151 sheep units of livestock last month",
            "上月网格牲畜存栏折合1,151羊单位",
        ),
        (
            "months_since_rested",
            1,
            "part of the grid's pasture was last closed to grazing 1 month ago",
            "距网格上次禁牧休牧已有1个月",
        ),
        ("herd_head_change12", -0.053, "the herd is 5% smaller than a year earlier", "存栏数比一年前减少5%"),
        ("herd_head_change12", 0.12, "the herd is 12% larger than a year earlier", "存栏数比一年前增加12%"),
        (
            "price_at_origin",
            2190.6,
            "the price was 2,191 yuan a head in the latest month",
            "最新月份平均单价为2,191元/头（只）",
        ),
        ("month_of_year", 3, "the forecast month is March", "预测月份为3月"),
        ("age", 45, "the person is 45 years old", "此人45岁"),
        ("haemoglobin_g_dl", 16.24, "haemoglobin was 16.2 g/dL at the check", "体检时血红蛋白为162 g/L"),
    ],
)
def test_describe_gives_a_plain_clause(name: str, value: object, en: str, zh: str) -> None:
    assert describe(name, value, "en") == en
    assert describe(name, value, "zh") == zh


def test_describe_missing_value_uses_the_entry_wording_or_says_no_record() -> None:
    assert describe("months_since_disputes", np.nan, "en") == "no dispute has been recorded in the grid"
    assert describe("months_since_disputes", None, "zh") == "记录期内本网格未发生过纠纷"
    assert describe("price_mean3", float("nan"), "en") == 'there is no record of "Average price, last 3 months"'
    assert describe("price_mean3", pd.NA, "zh") == "“近3个月平均单价”无记录"


def test_describe_shows_an_unlabelled_category_as_it_is() -> None:
    assert describe("species", "camel", "en") == "the forecast is for camel"


@pytest.mark.parametrize(
    ("name", "value", "en", "zh"),
    [
        ("stocking_su_last", 1150.8, "1,151 sheep units", "1,151羊单位"),
        ("area_km2", 32.0486, "32.0 km²", "32.0平方公里"),
        ("temp_mean_c_mean3", -2.06, "-2.1°C", "-2.1℃"),
        ("rested_share_last", 0.25, "25%", "25%"),
        ("herd_head_change12", 0.12, "+12%", "+12%"),
        ("herd_head_change12", -0.001, "0%", "0%"),
        ("snow_days_sum3", 1, "1 day", "1天"),
        ("systolic_bp", 122.6, "123 mmHg", "123 mmHg"),
        ("haemoglobin_g_dl", 16.24, "16.2 g/dL", "162 g/L"),
        ("pressure_proxy", 1.2345, "1.23", "1.23"),
        ("species", "yak", "yak", "牦牛"),
        ("season", "transition", "transition season", "过渡季"),
        ("target_month_of_year", 12.0, "December", "12月"),
        ("fox_skin", True, "yes", "是"),
        ("fox_skin", "false", "no", "否"),
        ("fox_skin", 0.5, "0.5", "0.5"),
        ("disputes_sum12", "many", "many", "many"),
    ],
)
def test_format_value_rounds_and_adds_units_or_labels(name: str, value: object, en: str, zh: str) -> None:
    assert format_value(name, value, "en") == en
    assert format_value(name, value, "zh") == zh


@pytest.mark.parametrize("missing", [None, np.nan, float("nan"), pd.NA, pd.NaT])
def test_format_value_of_a_missing_value_reads_unknown(missing: object) -> None:
    assert format_value("price_at_origin", missing, "en") == "unknown"
    assert format_value("water_source", missing, "zh") == "未知"


def test_unknown_feature_falls_back_to_its_name() -> None:
    assert feature_label("not_a_feature", "en") == "not_a_feature"
    assert feature_label("not_a_feature", "zh") == "not_a_feature"
    assert format_value("not_a_feature", 3.14159, "en") == "3.14"
    assert format_value("not_a_feature", 12000, "zh") == "12,000"
    assert describe("not_a_feature", 2, "en") == "not_a_feature is 2"
    assert describe("not_a_feature", "x", "zh") == "not_a_feature为x"
    assert describe("not_a_feature", None, "zh") == "not_a_feature为未知"


@pytest.mark.parametrize(
    "call",
    [
        lambda lang: feature_label("age", lang),
        lambda lang: format_value("age", 30, lang),
        lambda lang: describe("age", 30, lang),
        lambda lang: describe("not_a_feature", 30, lang),
    ],
)
@pytest.mark.parametrize("lang", ["fr", "EN", "zh-CN", ""])
def test_unsupported_language_raises_value_error(call: Callable[[str], str], lang: str) -> None:
    with pytest.raises(ValueError, match="unknown language"):
        call(lang)


# --- Loading and checking the file ------------------------------------------------------------------------


def test_load_feature_labels_is_cached() -> None:
    assert load_feature_labels() is load_feature_labels()


def test_shipped_yaml_parses_to_the_loaded_labels() -> None:
    assert parse_feature_labels(yaml.safe_dump(_raw_yaml(), allow_unicode=True)) == load_feature_labels()


@pytest.mark.parametrize(
    ("change", "feature", "message"),
    [
        ({"phrase": "the grid recorded disputes"}, "disputes_sum3", "must contain {value}"),
        ({"phrase_zh": None}, "disputes_sum3", "together"),
        ({"unit": "furlongs"}, "disputes_sum3", "units missing"),
        ({"phrase_false": None, "phrase_false_zh": None}, "fox_skin", "phrase_true and phrase_false"),
        ({"phrase": "it is {value}", "phrase_zh": "为{value}"}, "fox_skin", "phrase_true and phrase_false"),
        ({"phrase_zero": "{value} disputes"}, "disputes_sum3", "no {value}"),
        ({"unit": "days"}, "water_source", "numbers only"),
        ({"source": []}, "disputes_sum3", "source"),
        ({"name": "disputes_sum6"}, "disputes_sum3", "duplicate"),
    ],
)
def test_parse_feature_labels_rejects_an_inconsistent_entry(change: dict[str, Any], feature: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        parse_feature_labels(_yaml_with(change, feature))
