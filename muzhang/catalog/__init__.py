"""The data catalog (基层治理数据目录): every table and field of a county data directory, as data.

``catalog.yaml`` is the single place that says what a field means, its Chinese name, unit, type, bounds,
categories, which tables hold it, which model families use it and whether it is personal data.
Validation, API schemas and UI labels all read it through :func:`load_catalog`.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from importlib import resources
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from muzhang.families import family_names

FieldType = Literal["string", "integer", "float", "boolean", "date", "category"]
CATALOG_FILE = "catalog.yaml"


class FieldSpec(BaseModel):
    """One field (column) of the county data, shared by every table that holds it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    zh: str
    description: str
    unit: str | None = None
    type: FieldType
    min: float | date | None = None
    max: float | date | None = None
    categories: tuple[str, ...] | None = None
    pattern: str | None = None
    nullable: bool = False
    personal: bool = False
    tables: tuple[str, ...]
    families: tuple[str, ...] = ()  # registered model families (muzhang.families) that use the field
    display: str
    display_zh: str

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        unknown = sorted(set(self.families) - set(family_names()))
        if unknown:
            raise ValueError(f"{self.name}: unknown model families {unknown}; known: {', '.join(family_names())}")
        if (self.type == "category") != bool(self.categories):
            raise ValueError(f"{self.name}: categories are required for, and only for, category fields")
        if self.pattern is not None:
            if self.type != "string":
                raise ValueError(f"{self.name}: a pattern only applies to string fields")
            re.compile(self.pattern)
        bounds = [b for b in (self.min, self.max) if b is not None]
        if bounds and self.type not in ("integer", "float", "date"):
            raise ValueError(f"{self.name}: min/max only apply to integer, float and date fields")
        bound_type = date if self.type == "date" else float
        if any(not isinstance(b, bound_type) for b in bounds):
            raise ValueError(f"{self.name}: min/max of a {self.type} field must be {bound_type.__name__}s")
        if len(bounds) == 2 and bounds[0] > bounds[1]:  # type: ignore[operator]
            raise ValueError(f"{self.name}: min {self.min} is above max {self.max}")
        return self

    @property
    def label(self) -> str:
        """The display label with its unit, e.g. ``Elevation (m)``."""
        return f"{self.display} ({self.unit})" if self.unit else self.display


class TableSpec(BaseModel):
    """One table of a county data directory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    file: str
    zh: str
    description: str
    primary_key: tuple[str, ...]
    foreign_keys: dict[str, str] = {}  # column -> table whose (single-column) primary key it refers to


class CountyLayout(BaseModel):
    """Files of a county data directory other than its tables: the map and the simulator's oracle."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    geojson: str
    oracle_folder: str
    oracle_tables: tuple[str, ...] = ()

    def oracle_file(self, table: str) -> str:
        """Relative path of an oracle table, e.g. ``oracle/market_oracle.parquet``."""
        return f"{self.oracle_folder}/{table}.parquet"


class Catalog(BaseModel):
    """Every table and field, with lookups by name and by table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    layout: CountyLayout
    tables: tuple[TableSpec, ...]
    fields: tuple[FieldSpec, ...]
    _tables: dict[str, TableSpec] = PrivateAttr(default_factory=dict)
    _fields: dict[str, FieldSpec] = PrivateAttr(default_factory=dict)
    _by_table: dict[str, tuple[FieldSpec, ...]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        for kind, names in (
            ("table", [t.name for t in self.tables]),
            ("field", [f.name for f in self.fields]),
        ):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"duplicate {kind} entries: {', '.join(duplicates)}")
        self._tables = {t.name: t for t in self.tables}
        self._fields = {f.name: f for f in self.fields}
        for f in self.fields:
            unknown = sorted(set(f.tables) - set(self._tables))
            if unknown:
                raise ValueError(f"field {f.name} lists unknown tables: {', '.join(unknown)}")
        self._by_table = {t: tuple(f for f in self.fields if t in f.tables) for t in self._tables}
        for t in self.tables:
            columns = {f.name for f in self._by_table[t.name]}
            for column in (*t.primary_key, *t.foreign_keys):
                if column not in columns:
                    raise ValueError(f"table {t.name}: key column {column} is not one of its fields")
            for column, target in t.foreign_keys.items():
                if target not in self._tables or len(self._tables[target].primary_key) != 1:
                    raise ValueError(f"table {t.name}: {column} must refer to a table with a one-column key")
        return self

    @property
    def table_names(self) -> tuple[str, ...]:
        """Table names in catalog order (upstream tables first)."""
        return tuple(self._tables)

    def table_files(self) -> dict[str, str]:
        """Table name -> file name in a county data directory, in catalog order."""
        return {t.name: t.file for t in self.tables}

    def table(self, name: str) -> TableSpec:
        """The table called ``name``; ``KeyError`` names the known tables if there is none."""
        if name not in self._tables:
            raise KeyError(f"unknown table {name!r}; known tables: {', '.join(self._tables)}")
        return self._tables[name]

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``; ``KeyError`` if the catalog has no such field."""
        if name not in self._fields:
            raise KeyError(f"unknown field {name!r}")
        return self._fields[name]

    def fields_of(self, table: str) -> tuple[FieldSpec, ...]:
        """The fields of ``table`` in catalog order."""
        self.table(table)
        return self._by_table[table]

    def columns(self, table: str) -> list[str]:
        """The column names of ``table`` in catalog order."""
        return [f.name for f in self.fields_of(table)]

    def fields_for(self, family: str) -> tuple[FieldSpec, ...]:
        """The fields a model family uses."""
        return tuple(f for f in self.fields if family in f.families)

    def labels(self, lang: Literal["en", "zh"] = "en") -> dict[str, str]:
        """Field name -> short UI label in English or Chinese."""
        return {f.name: f.display if lang == "en" else f.display_zh for f in self.fields}


def parse_catalog(text: str) -> Catalog:
    """Build a :class:`Catalog` from YAML text; ``pydantic.ValidationError`` names any inconsistency."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when libyaml is there
    return Catalog.model_validate(yaml.load(text, Loader=loader))


@cache
def load_catalog() -> Catalog:
    """The catalog shipped with Muzhang (read once per process)."""
    text = resources.files(__name__).joinpath(CATALOG_FILE).read_text(encoding="utf-8")
    return parse_catalog(text)


__all__ = [
    "Catalog",
    "CountyLayout",
    "FieldSpec",
    "FieldType",
    "TableSpec",
    "load_catalog",
    "parse_catalog",
]
