"""The table an output folder belongs to: recorded by the first stage that runs there, read by
the others, so one folder never mixes the outputs of two tables.

metadata/data_source.json holds the table's absolute path, its SHA-256 and row count. A stage
run without --data uses that table; a stage run with another table (another path *and* other
content) against the folder stops with one line naming both, before anything is written.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common.core.errors import UserError
from common.core.io import expand_data_paths, file_sha256, read_json, write_json
from common.core.layout import OutputLayout

log = logging.getLogger("tcpsynth")


@dataclass(frozen=True)
class DataSource:
    """The table an output folder was made from."""

    path: str          # the table as the loader names it (a file, or "N files in <folder>")
    sha256: str        # of the file, or of the files' digests in order (common.core.io.read_table)
    rows: int
    recorded_by: str   # the script that wrote the record
    recorded_at: str   # UTC
    paths: list[str] = field(default_factory=list)   # every file, absolute, in order

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def files(self) -> list[Path]:
        return [Path(p) for p in (self.paths or [self.path])]

    @classmethod
    def from_dict(cls, payload: Any, source: str) -> "DataSource":
        try:
            return cls(path=str(payload["path"]), sha256=str(payload["sha256"]), rows=int(payload["rows"]),
                       recorded_by=str(payload.get("recorded_by", "")), recorded_at=str(payload.get("recorded_at", "")),
                       paths=[str(p) for p in payload.get("paths") or [payload["path"]]])
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{source} is not a data-source record (path, sha256, rows); delete it and run "
                            f"synthetic_data_setup.py again") from None


def read_source(layout: OutputLayout) -> DataSource | None:
    """The folder's recorded table, or None when no stage has recorded one yet."""
    path = layout.data_source_json
    if not path.exists():
        return None
    return DataSource.from_dict(read_json(path, "data-source record"), str(path))


def record_source(layout: OutputLayout, path: str, paths: list[str], sha256: str, rows: int,
                  script: str) -> DataSource:
    """Write the folder's data-source record (atomically) and return it. `path`: the table's
    name as the loader gives it; `paths`: its files in order."""
    files = [str(Path(p).resolve()) for p in paths]
    record = DataSource(path=files[0] if len(files) == 1 else path, sha256=sha256, rows=int(rows),
                        recorded_by=script, recorded_at=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                        paths=files)
    write_json(layout.data_source_json, record.to_dict())
    return record


def _same_table(files: list[Path], record: DataSource) -> bool:
    if [f.resolve() for f in files] == record.files:
        return True
    if not all(f.is_file() for f in files):
        return False
    digests = [file_sha256(f) for f in files]
    combined = digests[0] if len(digests) == 1 else hashlib.sha256("\n".join(digests).encode()).hexdigest()
    return combined == record.sha256


def resolve_data(given: list[Path] | None, layout: OutputLayout, default: Path, replace_hint: str) -> list[Path]:
    """The table a stage reads, as its files.

    In:  `given` (--data: files, folders or globs; None when left out), `layout` (the output
         folder), `default` (the bundled sample, for a folder no stage has recorded a table in),
         `replace_hint` (what the user can run to point the folder at another table).
    Out: `given` when it is the folder's table (same files or same bytes) or the folder has none;
         the recorded files when `given` is None. A different table is a UserError naming both.
    """
    record = read_source(layout)
    if record is None:
        return list(given) if given else [default]
    if not given:
        gone = [f for f in record.files if not f.is_file()]
        if gone:
            raise UserError(f"{layout.root} was set up with {gone[0]}, which is no longer there; give --data "
                            f"with the same table, or use a new --output-dir")
        log.info("   --data not given: %s, the table %s was set up with", record.path, layout.root)
        return record.files
    files = expand_data_paths(given)
    if not all(f.exists() for f in files) or _same_table(files, record):
        return list(given)     # a missing file is the loader's one-line error
    shown = " ".join(map(str, given))
    raise UserError(f"--data {shown} is not the table {layout.root} holds the outputs of ({record.path}); "
                    f"use another --output-dir for it, or {replace_hint}")


__all__ = ["DataSource", "read_source", "record_source", "resolve_data"]
