"""Between pandas frames and stored values, for the catalog tables.

Three forms of a column:

- **canonical** (for comparing): strings as object with ``None``, integers ``Int64``, floats ``Float64``,
  booleans ``boolean``, dates ``datetime64[us]`` (midnight); null is ``NA``/``NaT`` throughout.
- **stored** (for the driver): lists of plain Python values (``int``, ``float``, ``bool``, ``str``,
  ``datetime.date``) with ``None`` for null; never numpy scalars, which neither sqlite3 nor psycopg bind.
- **read** (what :meth:`Store.read_tables` returns): the pandas dtype the column had when it was last
  imported (kept in ``frame_columns``), else the catalog's default (:func:`default_dtype`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from muzhang.catalog import FieldSpec


def default_dtype(spec: FieldSpec) -> str:
    """The read dtype of a catalog field that was never imported (what ``read_csv``/``read_parquet`` give)."""
    if spec.type in ("string", "category"):
        return "str"
    if spec.type == "integer":
        return "Int64" if spec.nullable else "int64"
    if spec.type == "float":
        return "float64"
    if spec.type == "boolean":
        return "boolean" if spec.nullable else "bool"
    return "datetime64[us]"


def canonical(values: pd.Series, spec: FieldSpec) -> pd.Series:
    """A column in canonical form; ``ValueError``/``TypeError`` if its values do not fit the field's type."""
    s = values.reset_index(drop=True)
    if spec.type in ("string", "category"):
        text = s.astype("string")
        return text.astype(object).where(text.notna(), None)
    if spec.type == "integer":
        return s.astype("Int64")
    if spec.type == "float":
        return s.astype("Float64")
    if spec.type == "boolean":
        return s.astype("boolean")
    stamps = pd.to_datetime(s)
    if getattr(stamps.dt, "tz", None) is not None:
        raise ValueError(f"{spec.name}: dates must not carry a time zone")
    return stamps.dt.normalize().astype("datetime64[us]")


def canonical_from_stored(values: Sequence[Any] | np.ndarray, spec: FieldSpec) -> pd.Series:
    """A column read from the database, in canonical form. Takes what the drivers return as well as
    processed values: dates as ISO text (sqlite3) or ``date`` objects, booleans as 0/1 or ``bool``."""
    array = values if isinstance(values, np.ndarray) else np.asarray(list(values), dtype=object)
    if spec.type in ("string", "category"):
        return pd.Series(array.astype(object), dtype=object)
    if spec.type in ("integer", "float", "boolean"):
        mask = pd.isna(array)
        filled = np.where(mask, 0, array) if mask.any() else array
        if spec.type == "integer":
            return pd.Series(pd.arrays.IntegerArray(filled.astype(np.int64), mask))
        if spec.type == "float":
            return pd.Series(pd.arrays.FloatingArray(filled.astype(np.float64), mask))
        return pd.Series(pd.arrays.BooleanArray(filled.astype(bool), mask))
    texts = [v.isoformat() if isinstance(v, date) else v for v in array]
    return pd.Series(pd.to_datetime(pd.Series(texts, dtype=object), format="ISO8601"), dtype="datetime64[us]")


def to_dtype(values: pd.Series, dtype: str) -> pd.Series:
    """A canonical column cast to a read dtype."""
    return values.astype(pd.api.types.pandas_dtype(dtype))


def read_dtype_for(values: pd.Series, spec: FieldSpec) -> str:
    """The dtype to remember for an imported column: its own when the round trip gives it back exactly."""
    own = str(values.dtype)
    try:
        back = to_dtype(canonical(values, spec), own)
    except (TypeError, ValueError):
        return default_dtype(spec)
    original = values.reset_index(drop=True)
    return own if back.dtype == original.dtype and back.equals(original) else default_dtype(spec)


def stored(values: pd.Series, spec: FieldSpec) -> list[Any]:
    """A canonical column as plain Python values, ``None`` for null."""
    missing = values.isna().to_numpy()
    if spec.type in ("string", "category"):
        out = values.tolist()
    elif spec.type == "integer":
        out = values.fillna(0).astype("int64").to_numpy().tolist()
    elif spec.type == "float":
        out = values.astype("float64").to_numpy().tolist()
    elif spec.type == "boolean":
        out = values.fillna(False).astype(bool).to_numpy().tolist()
    else:
        out = values.fillna(pd.Timestamp(0)).dt.date.tolist()  # datetime.date objects
    if missing.any():
        out = [None if m else v for v, m in zip(out, missing, strict=True)]
    return out


def same(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality of two canonical columns, null equal to null."""
    na_a = a.isna().to_numpy()
    na_b = b.isna().to_numpy()
    eq = (a.reset_index(drop=True) == b.reset_index(drop=True)).to_numpy(dtype=bool, na_value=False)
    return (na_a & na_b) | (~na_a & ~na_b & eq)


def text_value(value: Any) -> str | None:
    """A stored value as audit text: ``true``/``false``, integers and floats as Python writes them, ISO dates."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def json_value(value: Any) -> Any:
    """A stored value as a JSON-able value (dates as ISO text)."""
    return value.isoformat() if isinstance(value, date) else value


def key_text(names: Sequence[str], values: Sequence[Any]) -> str:
    """The JSON text of a row's primary key, e.g. ``{"grid_id":"G001","month":"2019-01-01"}``."""
    return json.dumps(
        {n: json_value(v) for n, v in zip(names, values, strict=True)}, ensure_ascii=False, separators=(",", ":")
    )
