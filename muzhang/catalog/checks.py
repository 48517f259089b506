"""Hard and soft rules for the herder chiefs' monthly grid reports (网格月报), as DHIS2 runs them.

Hard rules refuse a row: a value that is not of its type, outside the catalog's physical range, empty where
the catalog requires it, not one of its categories, not in its pattern, a grid that does not exist, or a
month that is not a first-of-month date or lies after the latest open month. Soft rules keep the value and
flag it for follow-up: an outlier against the grid's own history (per item and season), and items that do
not agree with each other (herd balance, people and households, mediations and disputes).

Everything is checked at once (lazy), so a row with one bad field still reports all its others. Coercion
is done here, per field type, before pandera: pandera's own ``coerce=True`` gives up on a whole column when
one cell cannot be cast (every range check of that column then fails with a ``TypeError`` and names no
row), and a failed date cast names no row at all. The catalog's rules then run as a pandera schema on the
typed frame (``validate(lazy=True)``, read from ``SchemaErrors.failure_cases``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from muzhang.catalog import Catalog, FieldSpec, load_catalog
from muzhang.domain import DEFAULT_DOMAIN, SPECIES, Domain

Lang = Literal["zh", "en"]
# A hard problem: position in the upload (None: the whole upload), field, raw value, rule id.
Problem = tuple[int | None, str, object, str]
TABLE = "grid_monthly"
COLUMNS = ["row", "field", "value", "rule_id", "rule"]
VALUE_CHARS = 40
SOLD = tuple(f"{s}_sold" for s in SPECIES)
HERD_FIELD = "+".join(SPECIES)  # the derived item the herd-balance rule flags
# Set by the township's rest programme (rest_status), not counted or measured: a new ban is a decision.
NOT_OUTLIER_ITEMS = frozenset({"rested_share"})
# Items that are a level at the end of the month, not a flow during it (see SoftRules.stock_history_months).
STOCK_ITEMS = frozenset({"households", "people", "settled_houses", "dogs", *SPECIES})
SEASON_ZH = {"warm": "暖季", "cold": "冷季", "transition": "过渡季"}
TRUE_WORDS = frozenset({"true", "1", "1.0", "yes"})
FALSE_WORDS = frozenset({"false", "0", "0.0", "no"})


@dataclass(frozen=True)
class SoftRules:
    """Thresholds of the soft rules: a value beyond them is kept and flagged for follow-up, never refused."""

    # Iglewicz & Hoaglin's modified z-score cut-off (3.5), the one DHIS2 offers for outlier detection.
    outlier_z: float = 3.5
    # Assumption: flows and readings (rain, snow days, births, sales, disputes...) are compared with the
    # grid's same season over the last 10 years (the sample's depth: each month has up to 10 past values).
    history_months: int = 120
    # Assumption: stocks (people, households, houses, dogs, herds) carry over from month to month and trend
    # over years (a herd halves after snow winters, households split): they are compared with the grid's
    # last 12 months, whatever the season; the herd-balance rule checks their month-to-month change.
    stock_history_months: int = 12
    # Assumption: a median and MAD from fewer than 8 past values are too unstable to call anything an outlier.
    min_history: int = 8
    # The smallest spread the rule credits an item with, so a steady history (MAD 0) does not make every
    # change an outlier. Iglewicz & Hoaglin's fallback when MAD is 0: 1.2533 x the mean absolute deviation.
    # Assumption: counts move by whole units (spread at least 1), and levels (people, herds, houses) step
    # by a few per cent when a household forms or a herd is sold off (spread at least 5 % of the median).
    outlier_min_share: float = 0.05
    # Assumption: with 20 or more grids reporting one month in an upload (a township sends 40-50), their
    # median z is the month's shared move (a snowstorm, a county-wide sale); a value is then an outlier only
    # if it is far both from its grid's past and from that shared move.
    shared_shift_min_grids: int = 20
    # Assumption: the cold season runs Oct-Apr, so October (first snow, feed not yet given) is not compared
    # with January; only past months of the same season within 1 calendar month of the report's count.
    season_window_months: int = 1
    # Assumption: herds move between grids unreported; a month's herd may differ from last month's plus
    # births - deaths - sales by 5 % of last month's herd or 10 head, whichever is larger, before a flag.
    herd_tolerance_share: float = 0.05
    herd_tolerance_head: float = 10.0
    # Assumption: Dari households average 4-5 people (the sample: 3.0-4.9); above 12 a household is more
    # likely a typo (people typed with an extra digit, or households with one missing).
    max_people_per_household: float = 12.0


@dataclass(frozen=True)
class ReportCheck:
    """What the rules found in one upload.

    ``refused`` and ``flags`` have the columns row (the index label of ``reports``; ``None`` for a problem of
    the whole upload), field, value (as received, shortened), rule_id and rule (a sentence in one language).
    """

    refused: pd.DataFrame  # hard: the row is refused
    flags: pd.DataFrame  # soft: kept, flagged for follow-up
    accepted: pd.Index  # index labels of rows with no hard problem
    values: pd.DataFrame = field(default_factory=pd.DataFrame)  # the accepted rows, coerced to catalog types


# --- Messages -------------------------------------------------------------------------------------------

TYPE_WORDS = {
    "integer": ("must be a whole number", "必须是整数"),
    "float": ("must be a finite number", "必须是有限数字"),
    "date": ("must be a date (YYYY-MM-DD)", "必须是日期（YYYY-MM-DD）"),
    "boolean": ("must be true or false", "必须是 true 或 false"),
    "string": ("must be text", "必须是文本"),
    "category": ("must be text", "必须是文本"),
}


def _hard_message(rule_id: str, spec: FieldSpec | None, lang: Lang, latest_month: pd.Timestamp) -> str:
    zh = lang == "zh"
    if rule_id == "type" and spec is not None:
        en_text, zh_text = TYPE_WORDS[spec.type]
        return zh_text if zh else en_text
    if rule_id in ("min", "max") and spec is not None:
        bound = _format_bound(spec.min if rule_id == "min" else spec.max)
        if spec.type == "date":
            return (
                f"不得{'早' if rule_id == 'min' else '晚'}于{bound}"
                if zh
                else f"must not be {'before' if rule_id == 'min' else 'after'} {bound}"
            )
        return (
            f"不得{'小' if rule_id == 'min' else '大'}于{bound}"
            if zh
            else f"must be at {'least' if rule_id == 'min' else 'most'} {bound}"
        )
    if rule_id == "category" and spec is not None:
        options = spec.categories or ()
        return f"必须是以下之一：{'、'.join(options)}" if zh else f"must be one of {', '.join(options)}"
    if rule_id == "pattern" and spec is not None:
        return f"格式不符，应为 {spec.pattern}" if zh else f"must match {spec.pattern}"
    latest = latest_month.strftime("%Y-%m")
    fixed = {
        "required": ("must not be empty", "不得为空"),
        "missing_column": ("required column is missing", "缺少必填列"),
        "unknown_grid": ("unknown grid area", "网格不存在"),
        "month_not_first": ("month must be written as its first day (YYYY-MM-01)", "月份须写作当月1日（YYYY-MM-01）"),
        "month_future": (f"month is in the future (latest is {latest})", f"月份不能晚于{latest}"),
    }
    en_text, zh_text = fixed.get(rule_id, (rule_id, rule_id))
    return zh_text if zh else en_text


def _format_bound(bound: float | date | None) -> str:
    if isinstance(bound, date):
        return bound.isoformat()
    return "" if bound is None else (str(int(bound)) if float(bound).is_integer() else str(bound))


def _num(x: float) -> str:
    """A number as a reader wants it: ``12``, ``0.35``, ``-14.5``."""
    return str(int(x)) if float(x).is_integer() else f"{x:.3g}" if abs(x) < 1 else f"{x:.1f}"


def _short(value: object) -> str:
    """A received value, shortened: ``-3``, ``abc``, ``' abc'``, ``2015-01-01``; nothing (missing or an empty
    cell) is shown as nothing, as the person who left it empty saw it."""
    try:
        if pd.isna(value):  # type: ignore[call-overload]
            return ""
    except (TypeError, ValueError):  # list-like values
        pass
    if isinstance(value, pd.Timestamp):
        text = value.date().isoformat() if value == value.normalize() else value.isoformat()
    elif isinstance(value, str):
        text = value if value == value.strip() else repr(value)
    elif isinstance(value, float | np.floating):
        text = f"{float(value):.10g}"
    else:
        text = str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 3] + "..."


# --- Coercion (the type rule) ----------------------------------------------------------------------------


def _text(column: pd.Series) -> pd.Series:
    """Stripped text, with empty strings as missing (an empty CSV cell)."""
    text = column.astype("string").str.strip()
    return text.mask(text == "")


def coerce_column(column: pd.Series, spec: FieldSpec) -> tuple[pd.Series, np.ndarray]:
    """The column in its catalog type, and a mask of values present but not of that type (then missing).

    Text from CSV/XLSX and typed JSON values are read alike: numbers may be written as text (``" 12 "``,
    ``"12.0"`` for an integer), dates as ISO text or timestamps. Booleans are not numbers, numbers not dates.
    """
    present = column.notna().to_numpy()
    if spec.type in ("integer", "float"):
        if pd.api.types.is_bool_dtype(column):
            numbers = np.full(len(column), np.nan)
        elif pd.api.types.is_numeric_dtype(column):
            numbers = column.to_numpy(dtype="float64", na_value=np.nan)
        else:
            text = _text(column)
            present = text.notna().to_numpy()
            numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        ok = np.isfinite(numbers)
        if spec.type == "integer":  # whole, and within what a 64-bit count holds exactly (2**53)
            ok &= (numbers == np.round(numbers)) & (np.abs(numbers) < 2.0**53)
        bad = present & ~ok
        numbers = np.where(ok, numbers, np.nan)
        typed = pd.Series(numbers, index=column.index, dtype="float64")
        return (typed.astype("Int64") if spec.type == "integer" else typed), bad
    if spec.type == "date":
        if pd.api.types.is_datetime64_any_dtype(column):
            dates = column.dt.tz_localize(None) if getattr(column.dt, "tz", None) is not None else column
        elif pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            dates = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]")
        else:
            text = _text(column)
            present = text.notna().to_numpy()
            dates = pd.to_datetime(text, errors="coerce", format="ISO8601")
        dates = dates.astype("datetime64[ns]")
        return dates, present & dates.isna().to_numpy()
    if spec.type == "boolean":
        words = column.astype("string").str.strip().str.lower()
        truth = words.map(lambda w: True if w in TRUE_WORDS else False if w in FALSE_WORDS else pd.NA)
        return truth.astype("boolean"), present & truth.isna().to_numpy()
    return column.astype("string"), np.zeros(len(column), dtype=bool)


# --- The catalog's rules as a pandera schema ---------------------------------------------------------------


def _field_checks(table: str, catalog: Catalog) -> dict[str, tuple[list[pa.Check], bool]]:
    """Field -> (pandera checks from its catalog entry, nullable). The error text of each check is its rule id."""
    checks: dict[str, tuple[list[pa.Check], bool]] = {}
    for spec in catalog.fields_of(table):
        found: list[pa.Check] = []
        for rule_id, bound, make in (("min", spec.min, pa.Check.ge), ("max", spec.max, pa.Check.le)):
            if bound is not None:
                found.append(make(pd.Timestamp(bound) if isinstance(bound, date) else float(bound), error=rule_id))
        if spec.categories:
            found.append(pa.Check.isin(list(spec.categories), error="category"))
        if spec.pattern is not None:
            found.append(pa.Check(_fullmatch(spec.pattern), error="pattern"))
        checks[spec.name] = (found, spec.nullable)
    return checks


def _fullmatch(pattern: str) -> Callable[[pd.Series], pd.Series]:
    return lambda s: s.astype("string").str.fullmatch(pattern).fillna(False).astype(bool)


def report_schema(
    *,
    known_grids: Collection[str],
    latest_month: pd.Timestamp,
    catalog: Catalog | None = None,
    columns: Collection[str] | None = None,
) -> pa.DataFrameSchema:
    """The hard rules of a monthly grid report as a pandera schema over the coerced frame.

    The catalog's range, required, category and pattern rules, plus: the grid must exist (well-formed ids
    only, so a malformed one is reported once, by its pattern) and the month must be a first-of-month date
    no later than ``latest_month``. ``columns`` limits the schema to those fields (default: all).
    """
    catalog = catalog or load_catalog()
    known = set(known_grids)
    pattern = catalog.field("grid_id").pattern or ".*"
    latest = pd.Timestamp(latest_month)
    extra: dict[str, list[pa.Check]] = {
        "grid_id": [pa.Check(lambda s: ~_fullmatch(pattern)(s) | s.isin(known), error="unknown_grid")],
        "month": [
            pa.Check(lambda s: (s.dt.day == 1) & (s == s.dt.normalize()), error="month_not_first"),
            pa.Check(lambda s: s.dt.year * 12 + s.dt.month <= latest.year * 12 + latest.month, error="month_future"),
        ],
    }
    schema_columns = {
        name: pa.Column(checks=[*checks, *extra.get(name, [])], nullable=nullable, required=True)
        for name, (checks, nullable) in _field_checks(TABLE, catalog).items()
        if columns is None or name in columns
    }
    return pa.DataFrameSchema(schema_columns, strict=False, coerce=False)


# --- Entry point ---------------------------------------------------------------------------------------


def check_reports(
    reports: pd.DataFrame,
    *,
    known_grids: Collection[str],
    latest_month: pd.Timestamp,
    history: pd.DataFrame | None = None,
    lang: Lang = "zh",
    rules: SoftRules = SoftRules(),
    domain: Domain = DEFAULT_DOMAIN,
) -> ReportCheck:
    """Check one upload of monthly grid reports: which rows are refused, which values are flagged.

    Args:
        reports: grid-month rows with the catalog's ``grid_monthly`` columns, as text (CSV/XLSX) or typed
            (JSON); other columns are ignored. Index labels name the rows in the answer.
        known_grids: ids of the grid areas that exist.
        latest_month: the last month that may be reported (a later one is in the future).
        history: earlier ``grid_monthly`` rows (the store's), for the soft rules; ``None`` for none.
        lang: language of the rule sentences.
        rules: soft-rule thresholds.
        domain: seasons (for the outlier rule's per-season history).

    Returns:
        Refused rows (every hard problem of every row), flags on accepted rows, the accepted labels, and the
        accepted rows coerced to catalog types. Two reports of one grid and month are not a hard problem: the
        caller decides between them by submission.
    """
    catalog = load_catalog()
    specs = {s.name: s for s in catalog.fields_of(TABLE)}
    labels = reports.index
    frame = reports.reset_index(drop=True)  # positions, so repeated labels stay apart
    problems: list[Problem] = []  # (position or None, field, raw value, rule id)
    typed: dict[str, pd.Series] = {}
    type_bad: set[tuple[int, str]] = set()
    for name, spec in specs.items():
        if name not in frame.columns:
            if not spec.nullable:
                problems.append((None, name, None, "missing_column"))
            continue
        column = frame[name]
        if isinstance(column, pd.DataFrame):  # the same column name twice: read the first
            column = column.iloc[:, 0]
        typed[name], bad = coerce_column(column, spec)
        for pos in np.flatnonzero(bad):
            problems.append((int(pos), name, column.iloc[pos], "type"))
            type_bad.add((int(pos), name))
    values = pd.DataFrame(typed, index=frame.index)
    schema = report_schema(known_grids=known_grids, latest_month=latest_month, catalog=catalog, columns=typed)
    try:
        schema.validate(values, lazy=True)
    except SchemaErrors as exc:
        for item in exc.failure_cases.itertuples(index=False):
            pos, name = item.index, str(item.column)
            if pos is None or pd.isna(pos):
                continue
            rule_id = "required" if item.check == "not_nullable" else str(item.check)
            if (int(pos), name) not in type_bad:  # a value of the wrong type is reported once, as such
                problems.append((int(pos), name, frame[name].iloc[int(pos)], rule_id))
    refused = _problem_frame(problems, labels, specs, lang, latest_month)
    whole_upload = any(p[0] is None for p in problems)
    bad_rows = {p[0] for p in problems if p[0] is not None}
    keep = (
        np.zeros(len(frame), dtype=bool)
        if whole_upload
        else ~np.isin(np.arange(len(frame)), np.array(sorted(bad_rows), dtype=int))
    )
    accepted_values = values[keep].set_axis(labels[keep])
    flags = soft_flags(accepted_values, history, lang=lang, rules=rules, domain=domain, catalog=catalog)
    return ReportCheck(refused=refused, flags=flags, accepted=labels[keep], values=accepted_values)


def _problem_frame(
    problems: list[Problem],
    labels: pd.Index,
    specs: dict[str, FieldSpec],
    lang: Lang,
    latest_month: pd.Timestamp,
) -> pd.DataFrame:
    order = {name: i for i, name in enumerate(specs)}
    problems.sort(key=lambda p: (-1 if p[0] is None else p[0], order.get(p[1], len(order))))
    rows = [
        (
            None if pos is None else labels[int(pos)],
            name,
            None if pos is None else _short(raw),
            rule_id,
            _hard_message(rule_id, specs.get(name), lang, pd.Timestamp(latest_month)),
        )
        for pos, name, raw, rule_id in problems
    ]
    return pd.DataFrame(rows, columns=COLUMNS, dtype=object)


# --- Soft rules -------------------------------------------------------------------------------------------


def soft_flags(
    values: pd.DataFrame,
    history: pd.DataFrame | None,
    *,
    lang: Lang = "zh",
    rules: SoftRules = SoftRules(),
    domain: Domain = DEFAULT_DOMAIN,
    catalog: Catalog | None = None,
) -> pd.DataFrame:
    """Flags on typed report rows (every catalog column present): outliers and items that disagree."""
    catalog = catalog or load_catalog()
    found: list[Flag] = []
    if len(values):
        past = _relevant_history(values, history, numeric_items(catalog), rules, domain)
        found += _outliers(values, past, lang, rules, domain, catalog)
        found += _herd_balance(values, past, lang, rules)
        found += _people_households(values, lang, rules)
        found += _mediations_disputes(values, lang)
    position = {label: i for i, label in enumerate(values.index)}
    order = {name: i for i, name in enumerate([*catalog.columns(TABLE), HERD_FIELD])}
    found.sort(key=lambda f: (position[f[0]], order.get(f[1], len(order))))
    return pd.DataFrame(found, columns=COLUMNS, dtype=object)


Flag = tuple[object, str, str, str, str]  # row, field, value, rule id, rule


def _relevant_history(
    values: pd.DataFrame, history: pd.DataFrame | None, items: list[str], rules: SoftRules, domain: Domain
) -> pd.DataFrame:
    """The history rows the soft rules may read (the upload's grids, within the longest window), typed.

    ``grid`` numbers each row's grid by its first appearance in ``values``, so later steps group by integers.
    """
    if history is None or history.empty:
        columns = {"grid_id": "str", "grid": "int64", "month": "datetime64[ns]", "calendar": "int32", "season": "str"}
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in {**columns, **dict.fromkeys(items, "float64")}.items()})
    months = pd.to_datetime(history["month"]).astype("datetime64[ns]")
    longest = max(rules.history_months, rules.stock_history_months, 1)
    grids = pd.Index(pd.unique(values["grid_id"]))
    code = grids.get_indexer(pd.Index(history["grid_id"]))
    keep = (code >= 0) & (months >= values["month"].min() - pd.DateOffset(months=longest)).to_numpy()
    months = months[keep]
    numbers = {i: pd.to_numeric(history[i][keep], errors="coerce").astype("float64") for i in items}
    return pd.DataFrame(
        {
            "grid_id": history["grid_id"][keep],
            "grid": code[keep],
            "month": months,
            "calendar": months.dt.month,
            "season": _seasons(months, domain),
            **numbers,
        }
    )


def _flags(
    rows: Iterable[object], name: str, values: Iterable[object], rule_id: str, texts: Iterable[str]
) -> list[Flag]:
    return [(r, name, _short(v), rule_id, t) for r, v, t in zip(rows, values, texts, strict=True)]


def numeric_items(catalog: Catalog | None = None) -> list[str]:
    """The numeric items a grid reports (counts, readings, shares) that the outlier rule watches."""
    fields = (catalog or load_catalog()).fields_of(TABLE)
    return [f.name for f in fields if f.type in ("integer", "float") and f.name not in NOT_OUTLIER_ITEMS]


def _seasons(months: pd.Series, domain: Domain) -> pd.Series:
    by_month = {m: domain.season_of_month(m) for m in range(1, 13)}
    return months.dt.month.map(by_month)


def _outliers(
    values: pd.DataFrame, history: pd.DataFrame, lang: Lang, rules: SoftRules, domain: Domain, catalog: Catalog
) -> list[Flag]:
    items = numeric_items(catalog)
    if history.empty:
        return []
    stocks = [i for i in items if i in STOCK_ITEMS]
    flows = [i for i in items if i not in STOCK_ITEMS]
    seasonal = _history_spread(values, history, flows, rules.history_months, rules.season_window_months, domain)
    recent = _history_spread(values, history, stocks, rules.stock_history_months, None, domain)
    items = flows + stocks
    centre, scale, n = (np.hstack(pair) for pair in zip(seasonal, recent, strict=True))
    counts = np.array([catalog.field(i).type == "integer" for i in items], dtype=float)
    scale = np.maximum(scale, np.maximum(rules.outlier_min_share * np.abs(centre), counts))
    seasons = _seasons(values["month"], domain).to_numpy()
    x = values[items].astype("float64").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(n >= rules.min_history, (x - centre) / scale, np.nan)
    shift = _shared_shift(z, values["month"], rules.shared_shift_min_grids)
    z = np.fmin(np.abs(z), np.abs(z - shift))  # far from its own past and from where the month's grids went
    with np.errstate(invalid="ignore"):
        rows_at, cols_at = np.nonzero(z > rules.outlier_z)
    found: list[Flag] = []
    for j in np.unique(cols_at):
        at = rows_at[cols_at == j]
        spec = catalog.field(items[j])
        stock = items[j] in STOCK_ITEMS
        texts = [
            _outlier_text(
                spec, None if stock else str(seasons[i]), x[i, j], centre[i, j], z[i, j], n[i, j], shift[i, j], lang
            )
            for i in at
        ]
        found += _flags(values.index[at], items[j], x[at, j], "outlier", texts)
    return found


def _history_spread(
    values: pd.DataFrame,
    history: pd.DataFrame,
    items: list[str],
    history_months: int,
    season_window: int | None,
    domain: Domain,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per report row and item: median, robust spread and count of the grid's comparable past values.

    Comparable: the same grid, in the ``history_months`` before the report's month, and (unless
    ``season_window`` is None) in the same season within ``season_window`` calendar months of it. A month
    being reported again is not its own history.
    """
    shape = (len(values), len(items))
    centre, scale, n = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape)
    past_months = history["month"]
    calendar, season, grid = (history[c].to_numpy() for c in ("calendar", "season", "grid"))
    numbers = history[items].to_numpy(dtype="float64")
    value_grid = pd.Index(pd.unique(values["grid_id"])).get_indexer(pd.Index(values["grid_id"]))
    for month in pd.unique(values["month"]):
        month = pd.Timestamp(month)
        rows = (values["month"] == month).to_numpy()
        start = month - pd.DateOffset(months=history_months)
        keep = ((past_months >= start) & (past_months != month)).to_numpy(copy=True)
        if season_window is not None:
            apart = np.abs(calendar - month.month)
            keep &= (np.minimum(apart, 12 - apart) <= season_window) & (season == domain.season_of_month(month.month))
        chosen, codes = pd.DataFrame(numbers[keep]), grid[keep]
        median = chosen.groupby(codes).median()
        by_grid = np.full((len(value_grid), len(items)), np.nan)
        by_grid[median.index.to_numpy()] = median.to_numpy()
        deviation = (chosen - by_grid[codes]).abs()
        mad = 1.4826 * deviation.groupby(codes).median()
        spread = mad.where(mad > 0, 1.2533 * deviation.groupby(codes).mean())
        spread_by_grid, count_by_grid = np.full_like(by_grid, np.nan), np.zeros_like(by_grid)
        spread_by_grid[spread.index.to_numpy()] = spread.to_numpy()
        count = chosen.groupby(codes).count()
        count_by_grid[count.index.to_numpy()] = count.to_numpy()
        at = value_grid[rows]
        centre[rows], scale[rows], n[rows] = by_grid[at], spread_by_grid[at], count_by_grid[at]
    return centre, scale, n


def _shared_shift(z: np.ndarray, months: pd.Series, min_grids: int) -> np.ndarray:
    """Per report month and item, the median z of the upload's grids (0 with fewer than ``min_grids``).

    A heavy-snow month lifts snow days and deaths in every grid at once: that is weather, not a typing slip,
    so a value is an outlier only if it is far both from its grid's past and from the month's shared move.
    """
    shift = np.zeros_like(z)
    for month in pd.unique(months):
        rows = (months == month).to_numpy()
        enough = np.sum(~np.isnan(z[rows]), axis=0) >= min_grids
        if enough.any():
            with np.errstate(all="ignore"):
                shift[np.ix_(rows, enough)] = np.nanmedian(z[rows][:, enough], axis=0)
    return shift


def _outlier_text(
    spec: FieldSpec, season: str | None, x: float, centre: float, z: float, n: float, shift: float, lang: Lang
) -> str:
    """``season`` None: a stock, compared with the grid's recent months whatever their season."""
    z_text = f"{z:.1f}" if np.isfinite(z) else "∞"
    if lang == "zh":
        usual = f"以往{SEASON_ZH[season]}" if season else "近期"
        shared = f"；本次上报各网格同月整体偏移 z {shift:+.1f}，亦相差很大" if abs(shift) >= 1 else ""
        return (
            f"{spec.display_zh} {_num(x)} 与本网格{usual}数值相差很大"
            f"（中位数 {_num(centre)}，稳健 z 值 {z_text}，基于 {int(n)} 个月{shared}）"
        )
    usual = f"usual {season}-season values" if season else "recent months"
    shared = f"; far too from the shared move of this month's grids, z {shift:+.1f}" if abs(shift) >= 1 else ""
    return (
        f"{spec.display} {_num(x)} is far from this grid's {usual}"
        f" (median {_num(centre)}, robust z {z_text} over {int(n)} months{shared})"
    )


def _herd(frame: pd.DataFrame) -> pd.Series:
    return frame[list(SPECIES)].astype("float64").sum(axis=1, min_count=len(SPECIES))


def _herd_balance(values: pd.DataFrame, history: pd.DataFrame, lang: Lang, rules: SoftRules) -> list[Flag]:
    """This month's herd vs last month's + births - deaths - sales (last month from this upload, else history)."""
    herd = _herd(values).to_numpy(dtype="float64")
    previous = (values["month"] - pd.offsets.MonthBegin(1)).to_numpy()
    wanted = history["month"].isin(set(previous)).to_numpy()
    last: dict[tuple[str, object], float] = dict(
        zip(
            zip(history["grid_id"][wanted], history["month"][wanted].to_numpy(), strict=True),
            _herd(history[wanted]),
            strict=True,
        )
    )
    last.update(
        zip(zip(values["grid_id"], values["month"].to_numpy(), strict=True), herd, strict=True)
    )  # the upload wins
    before = np.array([last.get(key, np.nan) for key in zip(values["grid_id"], previous, strict=True)], dtype="float64")
    births, deaths = (values[c].astype("float64").to_numpy() for c in ("births", "deaths"))
    sold = values[list(SOLD)].astype("float64").sum(axis=1).to_numpy()
    expected = births - deaths - sold
    change = herd - before
    tolerance = np.maximum(rules.herd_tolerance_head, rules.herd_tolerance_share * before)
    with np.errstate(invalid="ignore"):
        at = np.flatnonzero(np.abs(change - expected) > tolerance)
    texts = [
        f"存栏合计 {_num(herd[i])}，比上月 {_num(before[i])} 变化 {change[i]:+.0f} 头，而出生 {_num(births[i])}"
        f" − 死亡 {_num(deaths[i])} − 出栏 {_num(sold[i])} = {expected[i]:+.0f} 头；"
        f"差 {change[i] - expected[i]:+.0f} 头"
        f"（网格间转入转出未上报，可能是转场）"
        if lang == "zh"
        else f"herd {_num(herd[i])} changed by {change[i]:+.0f} head from last month's {_num(before[i])}, but births"
        f" {_num(births[i])} - deaths {_num(deaths[i])} - sold {_num(sold[i])} = {expected[i]:+.0f};"
        f" {change[i] - expected[i]:+.0f} head unexplained (moves between grids are not reported, so this may be one)"
        for i in at
    ]
    return _flags(values.index[at], HERD_FIELD, herd[at], "herd_balance", texts)


def _people_households(values: pd.DataFrame, lang: Lang, rules: SoftRules) -> list[Flag]:
    people, households = (values[c].astype("float64").to_numpy() for c in ("people", "households"))
    limit = rules.max_people_per_household
    with np.errstate(invalid="ignore"):
        at = np.flatnonzero((people < households) | (people > limit * households))
    texts = [
        (
            f"人口 {_num(people[i])} 少于户数 {_num(households[i])}"
            if people[i] < households[i]
            else f"人口 {_num(people[i])} 超过户数 {_num(households[i])} 的 {_num(limit)} 倍"
        )
        if lang == "zh"
        else (
            f"people {_num(people[i])} fewer than households {_num(households[i])}"
            if people[i] < households[i]
            else f"people {_num(people[i])} more than {_num(limit)} per household ({_num(households[i])} households)"
        )
        for i in at
    ]
    return _flags(values.index[at], "people", people[at], "people_households", texts)


def _mediations_disputes(values: pd.DataFrame, lang: Lang) -> list[Flag]:
    mediations, disputes = (values[c].astype("float64").to_numpy() for c in ("mediations", "disputes"))
    with np.errstate(invalid="ignore"):
        at = np.flatnonzero(mediations > disputes)
    texts = [
        f"调解件数 {_num(mediations[i])} 多于纠纷件数 {_num(disputes[i])}"
        if lang == "zh"
        else f"mediations {_num(mediations[i])} more than disputes {_num(disputes[i])}"
        for i in at
    ]
    return _flags(values.index[at], "mediations", mediations[at], "mediations_disputes", texts)
