"""Reading catalog tables back as ``features.tables.load_county`` reads them, and their fingerprint.

Fields a catalog extension added (kept by an import, :mod:`muzhang.store.added`) come back as columns of
their tables, with :meth:`TableReads.read_county` giving the catalog that describes them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import pandas as pd
import sqlalchemy as sa

from muzhang.catalog import Catalog
from muzhang.store import frames as fr
from muzhang.store.added import AddedFields
from muzhang.store.base import Cutoff
from muzhang.store.cells import month_start
from muzhang.store.schema import frame_columns


class TableReads(AddedFields):
    """:meth:`read_tables`, :meth:`read_county` and :meth:`fingerprint`."""

    def read_tables(self, cutoff: Cutoff = None) -> dict[str, pd.DataFrame]:
        """Every catalog table (catalog order), as ``features.tables.load_county`` reads the same data.

        ``grid_monthly`` and ``market_monthly`` hold the months up to and including ``cutoff``'s month
        (``None``: every month). Rows are sorted by primary key; columns and dtypes are those of the last
        import (catalog order and :func:`muzhang.store.frames.default_dtype` for columns never imported).
        A field a catalog extension added comes back as a column of its table (empty where a row has no
        value). All tables are read in one transaction (one snapshot).
        """
        return self.read_county(cutoff)[0]

    def read_county(self, cutoff: Cutoff = None) -> tuple[dict[str, pd.DataFrame], Catalog]:
        """:meth:`read_tables` and, from the same snapshot, the catalog that describes them: the shipped one
        extended by the added fields the store keeps (:meth:`added_catalog`)."""
        limit = None if cutoff is None else month_start(cutoff)
        out: dict[str, pd.DataFrame] = {}
        with self._read() as conn:
            remembered = self._dtypes(conn)
            catalog = self._catalog_from(self._definitions(conn))
            for name in self.catalog.table_names:
                canonical = self._read_canonical(conn, name, limit)
                added = [f for f in catalog.fields_of(name) if f.name not in self.catalog.columns(name)]
                canonical = self._with_added_values(conn, name, canonical, added)
                out[name] = self._as_read(name, canonical, remembered.get(name, {}), catalog)
        return out, catalog

    def _dtypes(self, conn: sa.Connection) -> dict[str, dict[str, tuple[int, str]]]:
        out: dict[str, dict[str, tuple[int, str]]] = {}
        for r in conn.execute(sa.select(frame_columns)):
            out.setdefault(r.table_name, {})[r.column_name] = (r.position, r.dtype)
        return out

    def _as_read(
        self,
        name: str,
        canonical: pd.DataFrame,
        remembered: Mapping[str, tuple[int, str]],
        catalog: Catalog | None = None,
    ) -> pd.DataFrame:
        catalog = catalog or self.catalog
        specs = [s for s in catalog.fields_of(name) if s.name in canonical.columns]
        names = [s.name for s in specs]
        order = sorted(
            names,
            key=lambda c: (remembered[c][0], 0) if c in remembered else (len(specs), names.index(c)),
        )
        data = {}
        for column in order:
            spec = catalog.field(column)
            dtype = remembered[column][1] if column in remembered else fr.default_dtype(spec)
            try:
                data[column] = fr.to_dtype(canonical[column], dtype)
            except (TypeError, ValueError):  # an added field empty in rows imported without it (int64 -> Int64)
                nullable = spec.model_copy(update={"nullable": True})
                data[column] = fr.to_dtype(canonical[column], fr.default_dtype(nullable))
        frame = pd.DataFrame(data, columns=order)
        key = list(self.catalog.table(name).primary_key)
        return frame.sort_values(key, kind="stable").reset_index(drop=True)

    def fingerprint(self, cutoff: Cutoff = None) -> str:
        """sha256 of every catalog table's content up to ``cutoff`` (names, columns, dtypes and values)."""
        digest = hashlib.sha256()
        for name, frame in self.read_tables(cutoff).items():
            digest.update(json.dumps([name, [[str(c), str(t)] for c, t in frame.dtypes.items()]]).encode())
            digest.update(len(frame).to_bytes(8, "little"))
            if len(frame):
                # + 0.0 makes -0.0 plain 0.0: PostgreSQL keeps a negative zero, SQLite returns 0.0, and
                # the hash tells them apart though they are the same value.
                floats = frame.select_dtypes("float").columns
                frame = frame.assign(**{c: frame[c] + 0.0 for c in floats})
                digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        return digest.hexdigest()
