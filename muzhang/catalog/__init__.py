"""The data catalog (基层治理数据目录): every table and field of a county data directory, as data.

``catalog.yaml`` is the single place that says what a field means, its Chinese name, unit, type, bounds,
categories, which tables hold it, which model families use it and whether it is personal data.
Validation, API schemas and UI labels all read it through :func:`load_catalog`.

A data directory may extend it (:func:`catalog_for`): its own ``catalog.yaml`` adds fields (a measurement
such as glucose, passed through to a family's model) or changes known ones (docs/bring-your-own-data.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError, model_validator

from muzhang.families import family_names, get_family

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
    min: float | date | None = None  # hard limits: a value beyond them is impossible and refused
    max: float | date | None = None
    plausible_min: float | date | None = None  # a value beyond these (inside the hard limits) is kept, warned
    plausible_max: float | date | None = None
    categories: tuple[str, ...] | None = None
    pattern: str | None = None
    nullable: bool = False
    # A column a family's own data directory may leave out or leave empty (read as missing; the inputs built
    # from it are dropped with a note), e.g. the herd beside a sales series. A county imported into the
    # store still carries it as ``nullable`` says.
    optional: bool = False
    personal: bool = False
    tables: tuple[str, ...]
    families: tuple[str, ...] = ()  # registered model families (muzhang.families) that use the field
    display: str
    display_zh: str
    # An outcome (a boolean field of an outcome table, e.g. a disease condition found at the follow-up): the
    # years its risk covers, and the field that says a person already had it at the check (no risk given).
    horizon_years: float | None = None
    known_at_check: str | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if (self.horizon_years is not None or self.known_at_check is not None) and self.type != "boolean":
            raise ValueError(f"{self.name}: horizon_years and known_at_check describe an outcome (a boolean field)")
        if self.horizon_years is not None and not 0 < self.horizon_years <= 100:
            raise ValueError(
                f"{self.name}: horizon_years must be above 0 and at most 100 years, got {self.horizon_years}"
            )
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
        self._check_plausible_range()
        return self

    def _check_plausible_range(self) -> None:
        bound_type = date if self.type == "date" else float
        plausible = [b for b in (self.plausible_min, self.plausible_max) if b is not None]
        if not plausible:
            return
        if self.type not in ("integer", "float", "date"):
            raise ValueError(f"{self.name}: a plausible range only applies to integer, float and date fields")
        if any(not isinstance(b, bound_type) for b in plausible):
            raise ValueError(f"{self.name}: plausible_min/max of a {self.type} field must be {bound_type.__name__}s")
        low = self.plausible_min if self.plausible_min is not None else self.min
        high = self.plausible_max if self.plausible_max is not None else self.max
        if low is not None and high is not None and low > high:  # type: ignore[operator]
            raise ValueError(f"{self.name}: plausible range {low} to {high} is empty")
        if self.min is not None and self.plausible_min is not None and self.plausible_min < self.min:  # type: ignore[operator]
            raise ValueError(f"{self.name}: plausible_min {self.plausible_min} is below the hard min {self.min}")
        if self.max is not None and self.plausible_max is not None and self.plausible_max > self.max:  # type: ignore[operator]
            raise ValueError(f"{self.name}: plausible_max {self.plausible_max} is above the hard max {self.max}")

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

    def file_names(self) -> tuple[str, ...]:
        """Names the table's file may have in a directory, preferred first: the catalog's, then
        ``<table>.csv`` and ``<table>.parquet``."""
        return tuple(dict.fromkeys([self.file, f"{self.name}.csv", f"{self.name}.parquet"]))

    def find_file(self, folder: Path) -> Path | None:
        """The table's file in ``folder`` (the first of :meth:`file_names` that exists), or ``None``."""
        return next((folder / n for n in self.file_names() if (folder / n).is_file()), None)


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
            if f.known_at_check is not None and f.known_at_check not in self._fields:
                raise ValueError(f"field {f.name}: known_at_check {f.known_at_check!r} is no field of the catalog")
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

    def tables_for(self, family: str) -> tuple[str, ...]:
        """The tables ``family`` needs, in catalog order, as its registry entry declares them (every table
        when it declares none)."""
        declared = get_family(family).tables
        if declared is None:
            return self.table_names
        unknown = sorted(set(declared) - set(self._tables))
        if unknown:
            raise ValueError(f"family {family} declares unknown tables: {', '.join(unknown)}")
        return tuple(t for t in self._tables if t in declared)

    def added_fields(self, base: Catalog | None = None) -> tuple[FieldSpec, ...]:
        """The fields an extension added to ``base`` (default: the shipped catalog), in catalog order."""
        known = set((base or load_catalog())._fields)
        return tuple(f for f in self.fields if f.name not in known)


# --- Extensions: a data scientist's own fields, without a code change ------------------------------------

EXTENSION_FILE = "catalog.yaml"  # an extension a county data directory may carry beside its tables
EXTENSION_KEYS = frozenset({"fields"})
# Tables whose boolean fields a family predicts (its outcomes), not reads: table -> family. A boolean field an
# extension adds there for that family is a new condition, and a condition is declared with its horizon.
OUTCOME_TABLES: Mapping[str, str] = {"patient_outcomes": "disease"}


class CatalogExtensionError(ValueError):
    """An extension file that cannot be read or does not fit the catalog; the message names the file."""


def extend_catalog(base: Catalog, extension: Mapping[str, Any], source: str = "extension") -> Catalog:
    """``base`` with the extension's fields: a new name adds a field, a known name updates the keys given.

    An extension is a mapping with one key, ``fields``: a list of entries in the catalog's own format
    (``name``, ``type``, ``tables``, ``unit``, ``min``/``max`` hard limits, ``plausible_min``/``plausible_max``,
    ``families``...). ``zh``, ``description``, ``display`` and ``display_zh`` default to the name.

    Raises:
        CatalogExtensionError: naming ``source`` and what does not fit.
    """
    if not isinstance(extension, Mapping) or not set(extension) <= EXTENSION_KEYS:
        raise CatalogExtensionError(f"{source}: expected a mapping with the key 'fields' (a list of field entries)")
    entries = extension.get("fields") or []
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) and "name" in e for e in entries):
        raise CatalogExtensionError(f"{source}: 'fields' must be a list of entries, each with a name")
    fields = {f.name: f.model_dump(exclude_defaults=True) for f in base.fields}
    for entry in entries:
        name = str(entry["name"])
        if name in fields:
            fields[name] = {**fields[name], **entry}
        else:
            display = str(entry.get("display", name))
            defaults = {"zh": name, "description": name, "display": display, "display_zh": entry.get("zh", display)}
            fields[name] = {**defaults, **entry}
    raw = {**base.model_dump(exclude={"fields"}), "fields": list(fields.values())}
    try:
        extended = Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CatalogExtensionError(f"{source}: {problems}") from None
    missing = [m for f in extended.added_fields(base) if is_condition(f) and (m := missing_horizon(f))]
    if missing:
        raise CatalogExtensionError(f"{source}: {'; '.join(missing)}")
    return extended


def is_condition(spec: FieldSpec) -> bool:
    """Whether a field is an outcome a family predicts: a boolean of one of :data:`OUTCOME_TABLES` given to
    that table's family (a disease condition of the follow-up)."""
    return spec.type == "boolean" and any(OUTCOME_TABLES.get(t) in spec.families for t in spec.tables)


def missing_horizon(spec: FieldSpec) -> str | None:
    """The rule a condition an extension adds must meet, in words naming the field (None: it does). Every
    answer names how far ahead its risk is ("five-year risk of diabetes"), so a condition without one is
    refused rather than trained and answered as a bare "risk"."""
    if spec.horizon_years is not None:
        return None
    return (
        f"fields.{spec.name}.horizon_years: required for a condition (a boolean outcome of "
        f"{', '.join(t for t in spec.tables if t in OUTCOME_TABLES)} for {', '.join(spec.families)}): "
        f"the years its risk covers, named in every answer, e.g. horizon_years: 5"
    )


def read_extension(path: Path) -> dict[str, Any]:
    """The YAML of an extension file; :class:`CatalogExtensionError` if it cannot be read."""
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogExtensionError(f"cannot read catalog extension {path}: {exc}") from None
    return loaded if isinstance(loaded, dict) else {"": loaded}


def catalog_for(data_dir: Path | None = None, extension: Path | None = None) -> Catalog:
    """The shipped catalog, extended by the ``catalog.yaml`` a data directory carries (if any), then by
    ``extension`` (a file given on the command line)."""
    catalog = load_catalog()
    found = [p for p in (data_dir / EXTENSION_FILE if data_dir is not None else None, extension) if p is not None]
    for path in found:
        if path == extension or path.is_file():
            catalog = extend_catalog(catalog, read_extension(path), source=str(path))
    return catalog


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
    "EXTENSION_FILE",
    "OUTCOME_TABLES",
    "Catalog",
    "CatalogExtensionError",
    "CountyLayout",
    "FieldSpec",
    "FieldType",
    "TableSpec",
    "catalog_for",
    "extend_catalog",
    "is_condition",
    "load_catalog",
    "parse_catalog",
    "read_extension",
]
