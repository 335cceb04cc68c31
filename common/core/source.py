"""The table an output folder belongs to: recorded by the first stage that runs there, read by
the others, so one folder never mixes the outputs of two tables.

metadata/data_source.json holds the table's absolute path, its SHA-256 and row count. A stage
run without --data uses that table; a stage run with another table (another path *and* other
content) against the folder stops with one line naming both, before anything is written.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common.core.errors import UserError
from common.core.io import file_sha256, read_json, write_json
from common.core.layout import OutputLayout

log = logging.getLogger("tcpsynth")


@dataclass(frozen=True)
class DataSource:
    """The table an output folder was made from."""

    path: str          # absolute, as the stage that recorded it resolved it
    sha256: str
    rows: int
    recorded_by: str   # the script that wrote the record
    recorded_at: str   # UTC

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: Any, source: str) -> "DataSource":
        try:
            return cls(path=str(payload["path"]), sha256=str(payload["sha256"]), rows=int(payload["rows"]),
                       recorded_by=str(payload.get("recorded_by", "")), recorded_at=str(payload.get("recorded_at", "")))
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{source} is not a data-source record (path, sha256, rows); delete it and run "
                            f"synthetic_data_setup.py again") from None


def read_source(layout: OutputLayout) -> DataSource | None:
    """The folder's recorded table, or None when no stage has recorded one yet."""
    path = layout.data_source_json
    if not path.exists():
        return None
    return DataSource.from_dict(read_json(path, "data-source record"), str(path))


def record_source(layout: OutputLayout, path: Path | str, sha256: str, rows: int, script: str) -> DataSource:
    """Write the folder's data-source record (atomically) and return it."""
    record = DataSource(path=str(Path(path).resolve()), sha256=sha256, rows=int(rows), recorded_by=script,
                        recorded_at=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    write_json(layout.data_source_json, record.to_dict())
    return record


def _same_table(given: Path, record: DataSource) -> bool:
    if given.resolve() == Path(record.path):
        return True
    return given.is_file() and file_sha256(given) == record.sha256


def resolve_data(given: Path | None, layout: OutputLayout, default: Path, replace_hint: str) -> Path:
    """The table a stage reads.

    In:  `given` (--data, None when left out), `layout` (the output folder), `default` (the
         bundled sample, for a folder no stage has recorded a table in), `replace_hint` (what
         the user can run to point the folder at another table, for the error message).
    Out: `given` when it is the folder's table (same path or same bytes) or the folder has none;
         the recorded table when `given` is None. A different table is a UserError naming both.
    """
    record = read_source(layout)
    if record is None:
        return given if given is not None else default
    recorded = Path(record.path)
    if given is None:
        if not recorded.is_file():
            raise UserError(f"{layout.root} was set up with {recorded}, which is no longer there; give --data "
                            f"with the same table, or use a new --output-dir")
        log.info("   --data not given: %s, the table %s was set up with", recorded, layout.root)
        return recorded
    if not given.exists() or _same_table(given, record):
        return given     # a missing file is the loader's one-line error
    raise UserError(f"--data {given} is not the table {layout.root} holds the outputs of ({recorded}); "
                    f"use another --output-dir for it, or {replace_hint}")


__all__ = ["DataSource", "read_source", "record_source", "resolve_data"]
