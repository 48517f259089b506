"""Plain-language labels of model features (模型特征说明), in Chinese and English.

``features.yaml`` gives every feature the four families build a short label, a unit, the catalog fields it
is derived from and a clause that completes "because ..." / "因为……", so a prediction can be explained in
one sentence. Tables show :func:`feature_label` and :func:`format_value`; explanations use
:func:`describe`. A feature name the file does not know falls back to the name itself: a new feature
never breaks an explanation at serving time (a test checks that every built feature has an entry).
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from typing import Any, Literal, Self

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
FEATURES_FILE = "features.yaml"
VALUE = "{value}"
UNKNOWN: dict[Lang, str] = {"en": "unknown", "zh": "未知"}
YES_NO: dict[Lang, tuple[str, str]] = {"en": ("yes", "no"), "zh": ("是", "否")}
# Clauses for values the file has no wording for: an unknown value, an unknown feature.
NO_RECORD: dict[Lang, str] = {"en": 'there is no record of "{label}"', "zh": "“{label}”无记录"}
PLAIN: dict[Lang, str] = {"en": "{label} is {value}", "zh": "{label}为{value}"}
TRUE_WORDS = frozenset({"true", "1", "1.0", "yes"})
FALSE_WORDS = frozenset({"false", "0", "0.0", "no"})

Kind = Literal["number", "category", "flag"]


class Text(BaseModel):
    """A display label in both languages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class UnitText(BaseModel):
    """How a unit is written after a number; ``zh_scale`` converts for Chinese readers (g/dL -> g/L)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)
    en_one: str | None = None  # the English unit after exactly "1" (1 day, 1 dispute)
    zh_scale: float = Field(default=1.0, gt=0)


class FeatureLabel(BaseModel):
    """One model feature in plain words (see the header of ``features.yaml`` for each key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    label: str = Field(min_length=1)
    label_zh: str = Field(min_length=1)
    unit: str | None = None
    unit_zh: str | None = None
    source: tuple[str, ...] = Field(min_length=1)
    decimals: int = Field(default=0, ge=0, le=6)
    scale: float = Field(default=1.0, gt=0)
    phrase: str | None = None
    phrase_zh: str | None = None
    phrase_negative: str | None = None
    phrase_negative_zh: str | None = None
    phrase_zero: str | None = None
    phrase_zero_zh: str | None = None
    phrase_true: str | None = None
    phrase_true_zh: str | None = None
    phrase_false: str | None = None
    phrase_false_zh: str | None = None
    phrase_missing: str | None = None
    phrase_missing_zh: str | None = None
    categories: dict[str, Text] | None = None

    @model_validator(mode="after")
    def _check_shape(self) -> Self:
        def pair(key: str) -> tuple[str | None, str | None]:
            return getattr(self, key), getattr(self, f"{key}_zh")

        for key in (
            "phrase",
            "phrase_negative",
            "phrase_zero",
            "phrase_true",
            "phrase_false",
            "phrase_missing",
        ):
            if (pair(key)[0] is None) != (pair(key)[1] is None):
                raise ValueError(f"{self.name}: give {key} and {key}_zh together")
        valued = ["phrase", "phrase_negative"] if self.phrase_negative else ["phrase"]
        fixed = ["phrase_zero", "phrase_true", "phrase_false", "phrase_missing"]
        if self.kind == "flag":
            if self.phrase is not None or self.phrase_negative is not None or self.phrase_false is None:
                raise ValueError(f"{self.name}: a 0/1 feature has phrase_true and phrase_false, no phrase")
            if self.categories is not None:
                raise ValueError(f"{self.name}: a 0/1 feature has no categories")
            valued = []
        elif self.phrase is None or self.phrase_false is not None:
            raise ValueError(f"{self.name}: phrase and phrase_zh are required (phrase_true/false: 0/1 only)")
        for key in valued:
            if any(VALUE not in text for text in pair(key) if text is not None):
                raise ValueError(f"{self.name}: {key} and {key}_zh must contain {VALUE}")
        for key in fixed:
            if any(VALUE in text for text in pair(key) if text is not None):
                raise ValueError(f"{self.name}: {key} has no value to show, so no {VALUE}")
        numeric_only = (self.unit, self.phrase_negative, self.phrase_zero)
        if self.kind != "number" and any(key is not None for key in numeric_only):
            raise ValueError(f"{self.name}: unit, phrase_negative and phrase_zero are for numbers only")
        if self.unit_zh is not None and self.unit is None:
            raise ValueError(f"{self.name}: unit_zh overrides a unit, but the feature has none")
        return self

    @property
    def kind(self) -> Kind:
        """``flag`` (0/1), ``category`` (shown by its category label) or ``number``."""
        if self.phrase_true is not None:
            return "flag"
        return "category" if self.categories is not None else "number"

    def text(self, key: str, lang: Lang) -> str | None:
        """The entry's ``key`` (``label``, ``phrase``, ...) in ``lang``."""
        value: str | None = getattr(self, key if lang == "en" else f"{key}_zh")
        return value


class FeatureLabels(BaseModel):
    """Every feature's labels, looked up by name, and how each unit is written."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    units: dict[str, UnitText]
    features: tuple[FeatureLabel, ...]
    _by_name: dict[str, FeatureLabel] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_names(self) -> Self:
        names = [f.name for f in self.features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate feature entries: {', '.join(duplicates)}")
        unknown = sorted({f"{f.name}: {f.unit}" for f in self.features if f.unit and f.unit not in self.units})
        if unknown:
            raise ValueError(f"units missing from the unit table: {', '.join(unknown)}")
        self._by_name = {f.name: f for f in self.features}
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """Feature names in file order."""
        return tuple(self._by_name)

    def get(self, name: str) -> FeatureLabel | None:
        """The entry of feature ``name``, or ``None`` if the file has none."""
        return self._by_name.get(name)


def parse_feature_labels(text: str) -> FeatureLabels:
    """Build :class:`FeatureLabels` from YAML text; ``pydantic.ValidationError`` names any inconsistency."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when libyaml is there
    return FeatureLabels.model_validate(yaml.load(text, Loader=loader))


@cache
def load_feature_labels() -> FeatureLabels:
    """The feature labels shipped with Muzhang (read once per process)."""
    text = resources.files("muzhang.catalog").joinpath(FEATURES_FILE).read_text("utf-8")
    return parse_feature_labels(text)


def feature_label(name: str, lang: str) -> str:
    """Short display name of a feature, e.g. ``近3个月周边纠纷``; the name itself if the file lacks it.

    Raises:
        ValueError: if ``lang`` is not ``en`` or ``zh``.
    """
    language = _check_lang(lang)
    entry = load_feature_labels().get(name)
    return name if entry is None else _text(entry, "label", language)


def format_value(name: str, value: object, lang: str) -> str:
    """A feature's value as shown to people: rounded, with its unit, its category label, or yes/no.

    E.g. ``1,151 sheep units`` / ``1,151羊单位``, ``25%``, ``an open stream`` / ``河溪明水``. Unknown
    values (None, NaN) read ``unknown`` / ``未知``; features with a negative-value phrase show their sign
    (``+12%``). A value that does not fit the feature (a word for a number) is shown as it is.

    Raises:
        ValueError: if ``lang`` is not ``en`` or ``zh``.
    """
    language = _check_lang(lang)
    if _is_missing(value):
        return UNKNOWN[language]
    labels = load_feature_labels()
    entry = labels.get(name)
    if entry is None:
        return _plain(value)
    return _format(entry, labels, value, language, signed=entry.phrase_negative is not None)


def describe(name: str, value: object, lang: str) -> str:
    """A clause saying what the feature's value is, to follow "because" / "因为".

    E.g. ``describe("neighbour_disputes_sum3", 4, "zh")`` gives ``近3个月相邻网格发生纠纷4起``. Unknown
    values give the entry's own wording if it has one (``no dispute has been recorded in the grid``),
    otherwise a "no record" clause; a feature the file lacks gives ``<name> is <value>``.

    Raises:
        ValueError: if ``lang`` is not ``en`` or ``zh``.
    """
    language = _check_lang(lang)
    labels = load_feature_labels()
    entry = labels.get(name)
    if entry is None:
        return _fill(PLAIN[language], label=name, value=format_value(name, value, language))
    label = _text(entry, "label", language)
    if _is_missing(value):
        return entry.text("phrase_missing", language) or _fill(NO_RECORD[language], label=label)
    if entry.kind == "flag":
        flag = _as_flag(value)
        if flag is None:
            return _fill(PLAIN[language], label=label, value=str(value))
        return _text(entry, "phrase_true" if flag else "phrase_false", language)
    key = "phrase"
    number = _as_number(value) if entry.kind == "number" else None
    if number is not None:
        shown = _shown(entry, labels, number, language)
        if shown == 0 and entry.phrase_zero is not None:
            return _text(entry, "phrase_zero", language)
        if shown < 0 and entry.phrase_negative is not None:
            key, value = "phrase_negative", abs(number)
    return _fill(_text(entry, key, language), value=_format(entry, labels, value, language, signed=False))


def _check_lang(lang: str) -> Lang:
    for known in LANGS:
        if lang == known:
            return known
    raise ValueError(f"unknown language {lang!r}; expected 'en' or 'zh'")


def _text(entry: FeatureLabel, key: str, lang: Lang) -> str:
    text = entry.text(key, lang)
    if text is None:  # the model validator makes every key used here present
        raise ValueError(f"{entry.name}: no {key} in {lang}")
    return text


def _fill(template: str, **values: str) -> str:
    """Replace ``{key}`` placeholders without str.format, so other braces in the text stay as written."""
    for key, text in values.items():
        template = template.replace(f"{{{key}}}", text)
    return template


def _is_missing(value: object) -> bool:
    scalar: Any = value  # pd.isna takes any scalar: None, NaN, pd.NA, pd.NaT
    return scalar is None or (pd.api.types.is_scalar(scalar) and bool(pd.isna(scalar)))


def _as_number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _as_flag(value: object) -> bool | None:
    if isinstance(value, str):
        word = value.strip().lower()
        return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None
    number = _as_number(value)
    return None if number not in (0.0, 1.0) else number == 1.0


def _category_key(value: object) -> str:
    number = None if isinstance(value, str) else _as_number(value)
    return str(int(number)) if number is not None and number.is_integer() else str(value)


def _plain(value: object) -> str:
    number = None if isinstance(value, str) else _as_number(value)
    if number is None:
        return str(value)
    return f"{number:,.2f}".rstrip("0").rstrip(".")


def _scale_and_decimals(entry: FeatureLabel, labels: FeatureLabels, lang: Lang) -> tuple[float, int]:
    unit_scale = labels.units[entry.unit].zh_scale if entry.unit and lang == "zh" else 1.0
    # A unit ten times smaller shows one decimal fewer (16.2 g/dL, 162 g/L).
    decimals = max(0, entry.decimals - round(math.log10(unit_scale)))
    return entry.scale * unit_scale, decimals


def _shown(entry: FeatureLabel, labels: FeatureLabels, number: float, lang: Lang) -> float:
    """The number as displayed (scaled and rounded), so the sign and "1" match what is read."""
    scale, decimals = _scale_and_decimals(entry, labels, lang)
    shown = round(number * scale, decimals)
    return 0.0 if shown == 0 else shown  # never "-0"


def _format(entry: FeatureLabel, labels: FeatureLabels, value: object, lang: Lang, *, signed: bool) -> str:
    if entry.kind == "category":
        category = (entry.categories or {}).get(_category_key(value))
        return str(value) if category is None else (category.en if lang == "en" else category.zh)
    if entry.kind == "flag":
        flag = _as_flag(value)
        return str(value) if flag is None else YES_NO[lang][0 if flag else 1]
    number = _as_number(value)
    if number is None:
        return str(value)
    shown = _shown(entry, labels, number, lang)
    text = f"{shown:+,.{_scale_and_decimals(entry, labels, lang)[1]}f}"
    text = text if signed and shown != 0 else text.lstrip("+")
    if entry.unit is None:
        return text
    unit = labels.units[entry.unit]
    word = (entry.unit_zh or unit.zh) if lang == "zh" else (unit.en_one if unit.en_one and text == "1" else unit.en)
    # A space before Latin letters only: "12 km", "1,151 sheep units", but "25%", "-2.1°C", "4,483米".
    space = " " if word[0].isascii() and word[0].isalpha() else ""
    return f"{text}{space}{word}"


__all__ = [
    "LANGS",
    "FeatureLabel",
    "FeatureLabels",
    "Lang",
    "UnitText",
    "describe",
    "feature_label",
    "format_value",
    "load_feature_labels",
    "parse_feature_labels",
]
