"""Soft rules of the herder chiefs' monthly grid reports: the value is kept and flagged for follow-up.

An outlier against the grid's own history (robust z on the median absolute deviation, per item and season,
Iglewicz & Hoaglin), and items that disagree with each other (herd balance, people and households,
mediations and disputes). The expensive part, reading the history, is :func:`soft_context` (one row of
medians, spreads and counts per report); the rules themselves (:func:`soft_check`) run on plain column
arrays, so a whole upload (a frame) and one JSON report (a record, with a context kept in memory) go
through the very same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict, Unpack

import numpy as np
import pandas as pd

from muzhang.catalog import Catalog, FieldSpec, load_catalog
from muzhang.domain import DEFAULT_DOMAIN, SPECIES, Domain

Lang = Literal["zh", "en"]
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
Flag = tuple[object, str, str, str, str]  # row, field, value, rule id, rule
Columns = Mapping[str, np.ndarray]  # a report's items as arrays of one length (a frame's columns, or one record)


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
    # Assumption: a count (deaths, births, goats) moves at least as a Poisson count does from month to month,
    # so its spread is at least sqrt(median) x this: 2 deaths becoming 5 is chance, not a typo; 0 turns it off.
    count_spread_sqrt: float = 1.0
    # Assumption: with 20 or more grids reporting one month in an upload (a township sends 40-50), their
    # median z is the month's shared move (a snowstorm, a county-wide sale); a value is then an outlier only
    # if it is far both from its grid's past and from that shared move.
    shared_shift_min_grids: int = 20
    # Assumption: weather is regional (a snowstorm's footprint covers a few townships), so with 10 or more
    # of a township's grids reported in a month their median z is the township's shared move too.
    township_shift_min_grids: int = 10
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


DEFAULT_SOFT_RULES = SoftRules()


class SoftOptions(TypedDict, total=False):
    """What the soft rules of a frame of reports take besides the rows and their history (each optional).

    peers: month (datetime64[ns]) -> robust z of the other grids already reported that month (rows x items),
        for the month's shared move (see :func:`soft_check`); townships: grid -> township, for each
        township's shared move (see :func:`frame_columns`); peer_townships: month -> the township of each of
        ``peers``' rows; rules: thresholds (:data:`DEFAULT_SOFT_RULES`); domain: seasons, for the outlier
        rule's per-season history (:data:`muzhang.domain.DEFAULT_DOMAIN`).
    """

    peers: Mapping[object, np.ndarray] | None
    townships: Mapping[str, str] | None
    peer_townships: Mapping[object, np.ndarray] | None
    rules: SoftRules
    domain: Domain


@dataclass(frozen=True)
class SoftContext:
    """What the soft rules read from the past, per report row: for each outlier item (:attr:`items`) the
    grid's comparable median, robust spread (floored) and number of past values, and last month's herd."""

    items: tuple[str, ...]
    centre: np.ndarray  # rows x items
    scale: np.ndarray  # rows x items, at least the floor of SoftRules.outlier_min_share and whole units
    count: np.ndarray  # rows x items
    herd_before: np.ndarray  # rows; NaN when last month is unknown

    def take(self, rows: np.ndarray | Sequence[int]) -> SoftContext:
        """The context of some rows (positions)."""
        at = np.asarray(rows, dtype=int)
        return SoftContext(self.items, self.centre[at], self.scale[at], self.count[at], self.herd_before[at])


def short_value(value: object) -> str:
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


def number_text(x: float) -> str:
    """A number as a reader wants it: ``12``, ``0.35``, ``-14.5``."""
    return str(int(x)) if float(x).is_integer() else f"{x:.3g}" if abs(x) < 1 else f"{x:.1f}"


def numeric_items(catalog: Catalog | None = None) -> list[str]:
    """The numeric items a grid reports (counts, readings, shares) that the outlier rule watches."""
    fields = (catalog or load_catalog()).fields_of(TABLE)
    return [f.name for f in fields if f.type in ("integer", "float") and f.name not in NOT_OUTLIER_ITEMS]


def outlier_items(catalog: Catalog | None = None) -> tuple[str, ...]:
    """The outlier rule's items in the order of a :class:`SoftContext`: flows, then stocks."""
    items = numeric_items(catalog)
    return (*(i for i in items if i not in STOCK_ITEMS), *(i for i in items if i in STOCK_ITEMS))


def frame_columns(values: pd.DataFrame, townships: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """Typed report rows as the soft rules read them: grid ids, months (datetime64[ns]), float items, and
    each grid's township when ``townships`` (grid -> township) is given."""
    out: dict[str, np.ndarray] = {
        "grid_id": values["grid_id"].astype(object).to_numpy(),
        "month": pd.to_datetime(values["month"]).to_numpy(dtype="datetime64[ns]"),
    }
    if townships is not None:
        out["township_id"] = np.array([townships.get(str(g), "") for g in out["grid_id"]], dtype=object)
    for name in values.columns:
        if (
            name not in out
            and pd.api.types.is_numeric_dtype(values[name])
            and not pd.api.types.is_bool_dtype(values[name])
        ):
            out[str(name)] = values[name].to_numpy(dtype="float64", na_value=np.nan)
    return out


# --- The history: once per report (or kept in memory per grid and month) ---------------------------------


def soft_context(
    keys: pd.DataFrame,
    history: pd.DataFrame | None,
    *,
    rules: SoftRules = DEFAULT_SOFT_RULES,
    domain: Domain = DEFAULT_DOMAIN,
    catalog: Catalog | None = None,
) -> SoftContext:
    """Per row of ``keys`` (grid_id, month), what the soft rules need from ``history`` (earlier grid_monthly
    rows). A month being reported again is not its own history."""
    catalog = catalog or load_catalog()
    items = outlier_items(catalog)
    shape = (len(keys), len(items))
    months = pd.Series(pd.to_datetime(keys["month"]).to_numpy(dtype="datetime64[ns]"))
    keys = pd.DataFrame({"grid_id": keys["grid_id"].astype(object).to_numpy(), "month": months})
    past = _relevant_history(keys, history, list(items), rules, domain)
    if past.empty or not len(keys):
        nan = np.full(shape, np.nan)
        return SoftContext(items, nan, nan.copy(), np.zeros(shape), np.full(len(keys), np.nan))
    stocks = [i for i in items if i in STOCK_ITEMS]
    flows = [i for i in items if i not in STOCK_ITEMS]
    seasonal = _history_spread(keys, past, flows, rules.history_months, rules.season_window_months, domain)
    recent = _history_spread(keys, past, stocks, rules.stock_history_months, None, domain)
    centre, scale, count = (np.hstack(pair) for pair in zip(seasonal, recent, strict=True))
    whole = np.array([catalog.field(i).type == "integer" for i in items], dtype=float)
    counted = whole * rules.count_spread_sqrt * np.sqrt(np.abs(np.nan_to_num(centre)))  # a count's own noise
    scale = np.maximum(scale, np.maximum(rules.outlier_min_share * np.abs(centre), np.maximum(whole, counted)))
    return SoftContext(items, centre, scale, count, _herd_before(keys, past))


def _relevant_history(
    keys: pd.DataFrame, history: pd.DataFrame | None, items: list[str], rules: SoftRules, domain: Domain
) -> pd.DataFrame:
    """The history rows the soft rules may read (the rows' grids, within the longest window), typed.

    ``grid`` numbers each row's grid by its first appearance in ``keys``, so later steps group by integers.
    """
    if history is None or history.empty:
        columns = {"grid_id": "str", "grid": "int64", "month": "datetime64[ns]", "calendar": "int32", "season": "str"}
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in {**columns, **dict.fromkeys(items, "float64")}.items()})
    months = pd.to_datetime(history["month"]).astype("datetime64[ns]")
    longest = max(rules.history_months, rules.stock_history_months, 1)
    grids = pd.Index(pd.unique(keys["grid_id"]))
    code = grids.get_indexer(pd.Index(history["grid_id"]))
    keep = (code >= 0) & (months >= keys["month"].min() - pd.DateOffset(months=longest)).to_numpy()
    months = months[keep]
    numbers = {i: pd.to_numeric(history[i][keep], errors="coerce").astype("float64") for i in items}
    herd = history[list(SPECIES)][keep].apply(pd.to_numeric, errors="coerce").astype("float64")
    return pd.DataFrame(
        {
            "grid_id": history["grid_id"][keep],
            "grid": code[keep],
            "month": months,
            "calendar": months.dt.month,
            "season": _seasons(months, domain),
            "_herd": herd.sum(axis=1, min_count=len(SPECIES)),
            **numbers,
        }
    )


def _seasons(months: pd.Series, domain: Domain) -> pd.Series:
    by_month = {m: domain.season_of_month(m) for m in range(1, 13)}
    return months.dt.month.map(by_month)


def _history_spread(
    keys: pd.DataFrame,
    history: pd.DataFrame,
    items: list[str],
    history_months: int,
    season_window: int | None,
    domain: Domain,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per report row and item: median, robust spread and count of the grid's comparable past values.

    Comparable: the same grid, in the ``history_months`` before the report's month, and (unless
    ``season_window`` is None) in the same season within ``season_window`` calendar months of it.
    """
    shape = (len(keys), len(items))
    centre, scale, n = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape)
    past_months = history["month"]
    calendar, season, grid = (history[c].to_numpy() for c in ("calendar", "season", "grid"))
    numbers = history[items].to_numpy(dtype="float64")
    value_grid = pd.Index(pd.unique(keys["grid_id"])).get_indexer(pd.Index(keys["grid_id"]))
    for month in pd.unique(keys["month"]):
        month = pd.Timestamp(month)
        rows = (keys["month"] == month).to_numpy()
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


def _herd_before(keys: pd.DataFrame, past: pd.DataFrame) -> np.ndarray:
    """Each row's grid's herd in the month before, from the history (NaN if it has none)."""
    previous = (keys["month"] - pd.offsets.MonthBegin(1)).to_numpy()
    wanted = past["month"].isin(set(previous)).to_numpy()
    last = dict(
        zip(
            zip(past["grid_id"][wanted], past["month"][wanted].to_numpy(), strict=True),
            past["_herd"][wanted],
            strict=True,
        )
    )
    return np.array([last.get(k, np.nan) for k in zip(keys["grid_id"], previous, strict=True)], dtype="float64")


# --- The rules, on column arrays ----------------------------------------------------------------------------


def soft_check(
    columns: Columns,
    labels: Sequence[object],
    context: SoftContext,
    *,
    peers: Mapping[object, np.ndarray] | None = None,
    peer_townships: Mapping[object, np.ndarray] | None = None,
    lang: Lang = "zh",
    rules: SoftRules = DEFAULT_SOFT_RULES,
    domain: Domain = DEFAULT_DOMAIN,
    catalog: Catalog | None = None,
) -> tuple[list[Flag], np.ndarray]:
    """Flags on typed report rows, and each row's robust z per outlier item (NaN: too little history).

    Args:
        columns: grid_id, month (datetime64[ns]) and every numeric item, as arrays (see :func:`frame_columns`).
        labels: the rows' labels, named in the flags.
        context: the rows' history (:func:`soft_context`).
        peers: month (datetime64[ns]) -> robust z of the other grids already reported that month (rows x
            items): with them and these rows, at least ``shared_shift_min_grids`` grids make the month's
            shared move (a snowstorm lifts deaths in every grid), which a value must be far from too.
        peer_townships: month -> the township of each of ``peers``' rows; with ``columns["township_id"]``,
            a township's shared move counts too (``township_shift_min_grids``).
        lang, rules, domain, catalog: as for the hard rules.
    """
    catalog = catalog or load_catalog()
    found: list[Flag] = []
    z = np.full((len(labels), len(context.items)), np.nan)
    if len(labels):
        outliers, z = _outliers(
            columns, labels, context, peers or {}, peer_townships or {}, lang, rules, domain, catalog
        )
        found += outliers
        found += _herd_balance(columns, labels, context, lang, rules)
        found += _people_households(columns, labels, lang, rules)
        found += _mediations_disputes(columns, labels, lang)
    position = {label: i for i, label in enumerate(labels)}
    order = {name: i for i, name in enumerate([*catalog.columns(TABLE), HERD_FIELD])}
    found.sort(key=lambda f: (position[f[0]], order.get(f[1], len(order))))
    return found, z


def soft_check_frame(
    values: pd.DataFrame,
    history: pd.DataFrame | None,
    *,
    lang: Lang = "zh",
    catalog: Catalog | None = None,
    **options: Unpack[SoftOptions],
) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`soft_check` on typed report rows (every catalog column present, labelled by their index) with
    their history (earlier ``grid_monthly`` rows; ``None`` for none): the flags as a frame (:data:`COLUMNS`),
    and each row's robust z per outlier item.
    """
    catalog = catalog or load_catalog()
    rules = options.get("rules", DEFAULT_SOFT_RULES)
    domain = options.get("domain", DEFAULT_DOMAIN)
    context = soft_context(values, history, rules=rules, domain=domain, catalog=catalog)
    found, z = soft_check(
        frame_columns(values, options.get("townships")),
        list(values.index),
        context,
        peers=options.get("peers"),
        peer_townships=options.get("peer_townships"),
        lang=lang,
        rules=rules,
        domain=domain,
        catalog=catalog,
    )
    return pd.DataFrame(found, columns=COLUMNS, dtype=object), z


def soft_flags(
    values: pd.DataFrame,
    history: pd.DataFrame | None,
    *,
    lang: Lang = "zh",
    catalog: Catalog | None = None,
    **options: Unpack[SoftOptions],
) -> pd.DataFrame:
    """Flags on typed report rows (every catalog column present): outliers and items that disagree (the
    flags of :func:`soft_check_frame`)."""
    return soft_check_frame(values, history, lang=lang, catalog=catalog, **options)[0]


def _flags(
    rows: Iterable[object], name: str, values: Iterable[object], rule_id: str, texts: Iterable[str]
) -> list[Flag]:
    return [(r, name, short_value(v), rule_id, t) for r, v, t in zip(rows, values, texts, strict=True)]


def _outliers(
    columns: Columns,
    labels: Sequence[object],
    context: SoftContext,
    peers: Mapping[object, np.ndarray],
    peer_townships: Mapping[object, np.ndarray],
    lang: Lang,
    rules: SoftRules,
    domain: Domain,
    catalog: Catalog,
) -> tuple[list[Flag], np.ndarray]:
    items = context.items
    centre, scale, n = context.centre, context.scale, context.count
    x = np.column_stack([columns[i] for i in items]).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(n >= rules.min_history, (x - centre) / scale, np.nan)
    shift = _shared_shift(z, columns["month"], peers, rules.shared_shift_min_grids)
    far = np.fmin(np.abs(z), np.abs(z - shift))  # far from its own past and from where the month's grids went
    if "township_id" in columns:  # and from where its township's grids went
        local = _township_shift(z, columns, peers, peer_townships, rules.township_shift_min_grids)
        far = np.fmin(far, np.abs(z - local))
    with np.errstate(invalid="ignore"):
        rows_at, cols_at = np.nonzero(far > rules.outlier_z)
    by_month = {m: domain.season_of_month(m) for m in range(1, 13)}
    calendar = columns["month"].astype("datetime64[M]").astype("int64") % 12 + 1
    found: list[Flag] = []
    for j in np.unique(cols_at):
        at = rows_at[cols_at == j]
        spec = catalog.field(items[j])
        stock = items[j] in STOCK_ITEMS
        texts = [
            _outlier_text(
                spec,
                None if stock else by_month[int(calendar[i])],
                x[i, j],
                centre[i, j],
                far[i, j],
                n[i, j],
                shift[i, j],
                lang,
            )
            for i in at
        ]
        found += _flags([labels[int(i)] for i in at], items[j], x[at, j], "outlier", texts)
    return found, z


def _shared_shift(z: np.ndarray, months: np.ndarray, peers: Mapping[object, np.ndarray], min_grids: int) -> np.ndarray:
    """Per report month and item, the median z of the month's grids (these rows and ``peers``), or 0 with
    fewer than ``min_grids`` of them.

    A heavy-snow month lifts snow days and deaths in every grid at once: that is weather, not a typing slip,
    so a value is an outlier only if it is far both from its grid's past and from the month's shared move.
    """
    shift = np.zeros_like(z)
    for month in np.unique(months):
        rows = months == month
        others = peers.get(np.datetime64(month, "ns"))
        together = z[rows] if others is None or not len(others) else np.concatenate([z[rows], others])
        medians, counts = column_medians(together)
        enough = counts >= min_grids
        if enough.any():
            shift[np.ix_(rows, enough)] = medians[enough]
    return shift


def _township_shift(
    z: np.ndarray,
    columns: Columns,
    peers: Mapping[object, np.ndarray],
    peer_townships: Mapping[object, np.ndarray],
    min_grids: int,
) -> np.ndarray:
    """Per report month, township and item, the median z of the township's grids reported that month (these
    rows and ``peers``), or 0 with fewer than ``min_grids`` of them."""
    shift = np.zeros_like(z)
    months, townships = columns["month"], columns["township_id"]
    for month in np.unique(months):
        key = np.datetime64(month, "ns")
        others, where = peers.get(key), peer_townships.get(key)
        for township in np.unique(townships[months == month]):
            rows = (months == month) & (townships == township)
            together = z[rows]
            if others is not None and where is not None and len(others):
                together = np.concatenate([together, others[where == township]])
            medians, counts = column_medians(together)
            enough = counts >= min_grids
            if enough.any():
                shift[np.ix_(rows, enough)] = medians[enough]
    return shift


def column_medians(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the median of its non-NaN values (NaN if none) and their count: ``np.nanmedian`` without
    its masked-array detour, which costs a millisecond on the few hundred rows of a month."""
    ordered = np.sort(matrix, axis=0)  # NaN last
    counts = np.sum(~np.isnan(matrix), axis=0)
    low, high = np.maximum((counts - 1) // 2, 0), np.maximum(counts // 2, 0)
    columns = np.arange(matrix.shape[1])
    if not len(ordered):
        return np.full(matrix.shape[1], np.nan), counts
    medians = (ordered[low, columns] + ordered[high, columns]) / 2
    return np.where(counts > 0, medians, np.nan), counts


def _outlier_text(
    spec: FieldSpec, season: str | None, x: float, centre: float, z: float, n: float, shift: float, lang: Lang
) -> str:
    """``season`` None: a stock, compared with the grid's recent months whatever their season."""
    z_text = f"{z:.1f}" if np.isfinite(z) else "∞"
    if lang == "zh":
        usual = f"以往{SEASON_ZH[season]}" if season else "近期"
        shared = f"；本月各网格整体偏移 z {shift:+.1f}，亦相差很大" if abs(shift) >= 1 else ""
        return (
            f"{spec.display_zh} {number_text(x)} 与本网格{usual}数值相差很大"
            f"（中位数 {number_text(centre)}，稳健 z 值 {z_text}，基于 {int(n)} 个月{shared}）"
        )
    usual = f"usual {season}-season values" if season else "recent months"
    shared = f"; far too from the shared move of this month's grids, z {shift:+.1f}" if abs(shift) >= 1 else ""
    return (
        f"{spec.display} {number_text(x)} is far from this grid's {usual}"
        f" (median {number_text(centre)}, robust z {z_text} over {int(n)} months{shared})"
    )


def _herd_balance(
    columns: Columns, labels: Sequence[object], context: SoftContext, lang: Lang, rules: SoftRules
) -> list[Flag]:
    """This month's herd vs last month's + births - deaths - sales (last month from these rows, else history)."""
    herd = np.sum([columns[s] for s in SPECIES], axis=0)  # NaN if a species is missing
    grids, months = columns["grid_id"], columns["month"]
    previous = (months.astype("datetime64[M]") - np.timedelta64(1, "M")).astype("datetime64[ns]")
    before = context.herd_before.copy()
    if len(labels) > 1:  # these rows win over the history
        here = dict(zip(zip(grids, months, strict=True), herd, strict=True))
        given = np.array([here.get(k, np.nan) for k in zip(grids, previous, strict=True)], dtype="float64")
        before = np.where(np.isnan(given), before, given)
    births, deaths = columns["births"], columns["deaths"]
    sold = np.nansum([columns[c] for c in SOLD], axis=0)
    expected = births - deaths - sold
    change = herd - before
    tolerance = np.maximum(rules.herd_tolerance_head, rules.herd_tolerance_share * before)
    with np.errstate(invalid="ignore"):
        at = np.flatnonzero(np.abs(change - expected) > tolerance)
    texts = [
        f"存栏合计 {number_text(herd[i])}，比上月 {number_text(before[i])} 变化 {change[i]:+.0f} 头，而出生"
        f" {number_text(births[i])} − 死亡 {number_text(deaths[i])} − 出栏 {number_text(sold[i])}"
        f" = {expected[i]:+.0f} 头；差 {change[i] - expected[i]:+.0f} 头（网格间转入转出未上报，可能是转场）"
        if lang == "zh"
        else f"herd {number_text(herd[i])} changed by {change[i]:+.0f} head from last month's"
        f" {number_text(before[i])}, but births {number_text(births[i])} - deaths {number_text(deaths[i])}"
        f" - sold {number_text(sold[i])} = {expected[i]:+.0f}; {change[i] - expected[i]:+.0f} head unexplained"
        " (moves between grids are not reported, so this may be one)"
        for i in at
    ]
    return _flags([labels[int(i)] for i in at], HERD_FIELD, herd[at], "herd_balance", texts)


def _people_households(columns: Columns, labels: Sequence[object], lang: Lang, rules: SoftRules) -> list[Flag]:
    people, households = columns["people"], columns["households"]
    limit = rules.max_people_per_household
    with np.errstate(invalid="ignore"):
        at = np.flatnonzero((people < households) | (people > limit * households))
    texts = [
        (
            f"人口 {number_text(people[i])} 少于户数 {number_text(households[i])}"
            if people[i] < households[i]
            else f"人口 {number_text(people[i])} 超过户数 {number_text(households[i])} 的 {number_text(limit)} 倍"
        )
        if lang == "zh"
        else (
            f"people {number_text(people[i])} fewer than households {number_text(households[i])}"
            if people[i] < households[i]
            else f"people {number_text(people[i])} more than {number_text(limit)} per household"
            f" ({number_text(households[i])} households)"
        )
        for i in at
    ]
    return _flags([labels[int(i)] for i in at], "people", people[at], "people_households", texts)


def _mediations_disputes(columns: Columns, labels: Sequence[object], lang: Lang) -> list[Flag]:
    mediations, disputes = columns["mediations"], columns["disputes"]
    with np.errstate(invalid="ignore"):
        at = np.flatnonzero(mediations > disputes)
    texts = [
        f"调解件数 {number_text(mediations[i])} 多于纠纷件数 {number_text(disputes[i])}"
        if lang == "zh"
        else f"mediations {number_text(mediations[i])} more than disputes {number_text(disputes[i])}"
        for i in at
    ]
    return _flags([labels[int(i)] for i in at], "mediations", mediations[at], "mediations_disputes", texts)
