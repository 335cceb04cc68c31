"""Reading flow tables and writing artifacts atomically.

`read_table` is the one loader of all three scripts. It accepts CSV (also gzip-compressed)
and Parquet, strips the spaces CICFlowMeter leaves around header names, makes repeated
names unique, reads 'Infinity'/'inf'/'NaN'/empty cells as inf/NaN, and reports what it saw
(per-column inf and missing counts, renamed headers, exact duplicate rows) in a LoadReport.
Problems a user can fix become a one-line UserError naming the file.

Every artifact is written through `atomic_path`: a temporary file in the target folder that
is renamed over the target only when it is complete, so an interrupted run never leaves a
half-written file behind.
"""
from __future__ import annotations

import csv
import glob
import gzip
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from common.core.errors import UserError

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".data", ".gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
# Cells that mean "no value" in flow exports; pandas already reads inf/Infinity as +-inf.
MISSING_MARKERS = ["", "NaN", "nan", "NA", "N/A", "null", "None"]
CANDIDATE_DELIMITERS = [";", "\t", "|"]
SNIFF_BYTES = 64 * 1024


@dataclass
class LoadReport:
    """What the loader saw in a file, for the console and the JSON artifacts."""

    path: str
    rows: int
    columns: int
    sha256: str
    stripped_names: int = 0
    renamed_duplicates: dict[str, str] = field(default_factory=dict)
    infinite_counts: dict[str, int] = field(default_factory=dict)
    missing_counts: dict[str, int] = field(default_factory=dict)
    duplicate_rows: int = 0
    # the files read, in order, when the table is several files: [{"path", "rows", "sha256"}]
    files: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def paths(self) -> list[str]:
        """Every file the table was read from, in order."""
        return [entry["path"] for entry in self.files] if self.files else [self.path]

    def summary_lines(self) -> list[str]:
        """Short human sentences about anything unusual in the file."""
        lines = [f"{self.rows:,} rows x {self.columns} columns from {self.path}"]
        for entry in self.files:
            lines.append(f"  {entry['rows']:,} rows from {entry['path']}")
        if self.stripped_names:
            lines.append(f"{self.stripped_names} column names had surrounding spaces (stripped)")
        for unique, original in self.renamed_duplicates.items():   # {name kept: name in the file}
            lines.append(f"repeated column name '{original}' renamed to '{unique}'")
        if self.infinite_counts:
            total = sum(self.infinite_counts.values())
            lines.append(f"{total:,} infinite values in {len(self.infinite_counts)} columns: "
                         + ", ".join(f"{c} ({n})" for c, n in list(self.infinite_counts.items())[:5]))
        if self.missing_counts:
            total = sum(self.missing_counts.values())
            lines.append(f"{total:,} missing values in {len(self.missing_counts)} columns: "
                         + ", ".join(f"{c} ({n})" for c, n in list(self.missing_counts.items())[:5]))
        if self.duplicate_rows:
            lines.append(f"{self.duplicate_rows:,} exact duplicate rows "
                         f"({self.duplicate_rows / max(self.rows, 1):.1%}; kept, real captures repeat flows)")
        return lines


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks so large tables do not sit in memory twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_readable_file(path: Path) -> None:
    if not path.exists():
        raise UserError(f"data file not found: {path} (give an existing CSV or Parquet file with --data)")
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a data file (give a CSV or Parquet file with --data)")
    if path.stat().st_size == 0:
        raise UserError(f"data file {path} is empty (0 bytes): export the flow table again")


def _is_parquet(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(PARQUET_SUFFIXES)


def _open_text_head(path: Path) -> str:
    """Decode the start of a CSV as UTF-8, refusing binary content with a clear message."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except (OSError, EOFError) as error:
        raise UserError(f"cannot read {path}: {error}") from None
    if b"\x00" in head:
        raise UserError(f"{path} looks like a binary file, not a CSV (expected comma-separated text or Parquet)")
    try:
        # A multi-byte character may be cut at the end of the sniffed block.
        return head.decode("utf-8") if len(head) < SNIFF_BYTES else head[:-4].decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(
            f"{path} is not UTF-8 text (byte {error.start}): save it as UTF-8 CSV or Parquet"
        ) from None


def _header_names(head: str, path: Path) -> list[str]:
    lines = head.splitlines()
    if not lines or not lines[0].strip():
        raise UserError(f"{path} has no header line")
    header = next(csv.reader([lines[0]]))
    if len(header) == 1:
        for delimiter in CANDIDATE_DELIMITERS:
            if delimiter in lines[0]:
                shown = "\\t" if delimiter == "\t" else delimiter
                raise UserError(
                    f"{path} has a single column: it looks '{shown}'-delimited; save it comma-separated"
                )
    if len([line for line in lines[1:] if line.strip()]) == 0:
        raise UserError(f"{path} has a header but no data rows: export the flow table with its rows")
    return header


def make_unique_names(names: list[str]) -> tuple[list[str], int, dict[str, str]]:
    """Strip names and make repeats unique the way pandas does ('x', 'x.1', 'x.2').

    Returns the new names, how many names had surrounding spaces, and a map
    {new unique name: original stripped name} for the renamed repeats.
    """
    stripped = [str(name).strip() for name in names]
    stripped_count = sum(1 for old, new in zip(names, stripped) if str(old) != new)
    seen: dict[str, int] = {}
    taken = set(stripped)
    unique: list[str] = []
    renamed: dict[str, str] = {}
    for name in stripped:
        if name not in seen:
            seen[name] = 0
            unique.append(name)
            continue
        seen[name] += 1
        candidate = f"{name}.{seen[name]}"
        while candidate in taken:
            seen[name] += 1
            candidate = f"{name}.{seen[name]}"
        taken.add(candidate)
        unique.append(candidate)
        renamed[candidate] = name
    return unique, stripped_count, renamed


def _read_csv(path: Path) -> tuple[pd.DataFrame, list[str]]:
    head = _open_text_head(path)
    header = _header_names(head, path)
    names, _, _ = make_unique_names(header)
    try:
        frame = pd.read_csv(
            path, header=0, names=names, na_values=MISSING_MARKERS, keep_default_na=True,
            low_memory=False, encoding="utf-8", skipinitialspace=True,
        )
    except UnicodeDecodeError as error:
        raise UserError(f"{path} is not UTF-8 text (byte {error.start}): save it as UTF-8 CSV") from None
    except (pd.errors.ParserError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"cannot parse {path} as CSV: {first_line}") from None
    return frame, header


def _read_parquet(path: Path) -> tuple[pd.DataFrame, list[str]]:
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for a bad file
        raise UserError(f"cannot read {path} as Parquet: {str(error).splitlines()[0]}") from None
    header = [str(name) for name in frame.columns]
    names, _, _ = make_unique_names(header)
    frame.columns = names
    return frame, header


def _count_non_finite(frame: pd.DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    infinite: dict[str, int] = {}
    missing: dict[str, int] = {}
    for name in frame.columns:
        column = frame[name]
        n_missing = int(column.isna().sum())
        if n_missing:
            missing[name] = n_missing
        if pd.api.types.is_float_dtype(column):
            n_inf = int(np.isinf(column.to_numpy()).sum())
            if n_inf:
                infinite[name] = n_inf
    return infinite, missing


def _coerce_text_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn object columns that are numbers in disguise (e.g. 'Infinity' mixed with values) into floats."""
    for name in frame.columns[frame.dtypes == object]:
        converted = pd.to_numeric(frame[name], errors="coerce")
        non_null = frame[name].notna()
        if non_null.any() and converted[non_null].notna().all():
            frame[name] = converted
    return frame


GLOB_CHARACTERS = set("*?[")


def expand_data_paths(spec: Path | str | list[Path | str] | tuple[Path | str, ...]) -> list[Path]:
    """The data files a --data value names, in order: a file as it is; a folder as the CSV,
    CSV.gz and Parquet files directly inside it (sorted by name); a glob pattern as its matches
    (sorted). Several values are expanded one after the other. A name that matches nothing is a
    UserError (a missing single file is left to the loader's own message)."""
    items = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(
                CSV_SUFFIXES + PARQUET_SUFFIXES) and not p.name.startswith("."))
            if not found:
                raise UserError(f"{path} is a directory with no CSV, CSV.gz or Parquet file in it "
                                f"(give a data file, a folder of them or a glob with --data)")
            files += found
        elif not path.exists() and GLOB_CHARACTERS & set(str(item)):
            found = sorted(Path(p) for p in glob.glob(str(item)) if Path(p).is_file())
            if not found:
                raise UserError(f"--data pattern {item} matches no file")
            files += found
        else:
            files.append(path)
    unique = list(dict.fromkeys(files))
    return unique


def read_table(path: Path | str | list[Path | str], min_rows: int = 1) -> tuple[pd.DataFrame, LoadReport]:
    """Load a flow table and report what was found in it.

    Parameters
    ----------
    path : CSV (optionally .gz) or Parquet file; or a folder, a glob or a list of them, read as
        one table (`expand_data_paths`): the files' headers must agree, rows follow in order.
    min_rows : fewer data rows than this is a UserError (a model cannot learn from one row).

    Returns
    -------
    (frame, report): the table with stripped, unique column names, and a LoadReport.
    The files themselves are only read, never modified.
    """
    files = expand_data_paths(path)
    if len(files) > 1:
        return _read_tables(files, min_rows)
    path = files[0]
    _check_readable_file(path)
    frame, header = _read_parquet(path) if _is_parquet(path) else _read_csv(path)
    _, stripped_count, renamed = make_unique_names(header)
    frame = _coerce_text_numbers(frame)
    if len(frame) == 0:
        raise UserError(f"{path} has a header but no data rows: export the flow table with its rows")
    if len(frame) < min_rows:
        raise UserError(
            f"{path} has {len(frame)} data row(s); at least {min_rows} are needed to learn a distribution"
        )
    return frame, _report(frame, path, str(path), file_sha256(path), stripped_count, renamed)


def _read_tables(files: list[Path], min_rows: int) -> tuple[pd.DataFrame, LoadReport]:
    """Several files as one table: every header must equal the first file's (a file that differs
    is a UserError naming it and the columns that differ); rows in the files' order."""
    frames, entries, first = [], [], None
    stripped_total, renamed_all = 0, {}
    for path in files:
        frame, report = read_table(path, min_rows=1)
        names = list(frame.columns)
        if first is None:
            first = (path, names)
        elif names != first[1]:
            raise _header_mismatch(path, names, first[0], first[1])
        frames.append(frame)
        entries.append({"path": str(path), "rows": len(frame), "sha256": report.sha256})
        stripped_total = max(stripped_total, report.stripped_names)
        renamed_all.update(report.renamed_duplicates)
    frame = pd.concat(frames, ignore_index=True)
    if len(frame) < min_rows:
        raise UserError(f"the {len(files)} files hold {len(frame)} data row(s); at least {min_rows} are needed")
    # one digest for the table: the files' digests in order (the split keeps row positions)
    digest = hashlib.sha256("\n".join(entry["sha256"] for entry in entries).encode()).hexdigest()
    parents = {str(Path(entry["path"]).parent) for entry in entries}
    shown = f"{len(files)} files in {parents.pop()}" if len(parents) == 1 else f"{len(files)} files"
    report = _report(frame, files[0], shown, digest, stripped_total, renamed_all)
    report.files = entries
    return frame, report


def _header_mismatch(path: Path, names: list[str], first_path: Path, first_names: list[str]) -> UserError:
    """The one-line error for a file whose columns differ from the first file's."""
    missing = [c for c in first_names if c not in names]
    extra = [c for c in names if c not in first_names]
    detail = (f"lacks {', '.join(map(repr, missing[:5]))}" if missing else "") + \
             ("; " if missing and extra else "") + \
             (f"has {', '.join(map(repr, extra[:5]))} in addition" if extra else "") or \
             "has the same columns in another order"
    return UserError(f"{path}: its header differs from {first_path}'s: it {detail} "
                     f"(all files given with --data must have the same columns)")


def read_header(path: Path) -> list[str]:
    """The column names of one data file as written (CSV header line or Parquet schema),
    without reading its rows; the same UserErrors as read_table for an unreadable file."""
    _check_readable_file(path)
    if _is_parquet(path):
        import pyarrow.parquet as pq

        try:
            return [str(name) for name in pq.ParquetFile(path).schema_arrow.names]
        except Exception as error:  # pyarrow raises several unrelated types for a bad file
            raise UserError(f"cannot read {path} as Parquet: {str(error).splitlines()[0]}") from None
    return _header_names(_open_text_head(path), path)


def common_header(files: list[Path]) -> tuple[list[str], int, dict[str, str]]:
    """The header every file shares, checked from the headers alone: (unique stripped names,
    how many names had surrounding spaces, {renamed repeat: original}). A file whose columns
    differ from the first file's is the same UserError as read_table gives."""
    first_names: list[str] | None = None
    result: tuple[list[str], int, dict[str, str]] | None = None
    for path in files:
        unique, stripped, renamed = make_unique_names(read_header(path))
        if first_names is None:
            first_names, result = unique, (unique, stripped, renamed)
        elif unique != first_names:
            raise _header_mismatch(path, unique, files[0], first_names)
    assert result is not None
    return result


def parse_text_rows(text_rows: Any) -> pd.DataFrame:
    """Rows held as text (a Polars frame of String columns: what the out-of-core sampler
    fetched) parsed exactly as read_table parses a CSV: written to a temporary CSV and read back
    by the same reader, so a sample's types and values are those of the whole table."""
    with tempfile.TemporaryDirectory(prefix="tcpsynth-rows-") as folder:
        path = Path(folder) / "rows.csv"
        text_rows.write_csv(path)
        frame, _ = _read_csv(path)
    return _coerce_text_numbers(frame)


def _report(frame: pd.DataFrame, path: Path, shown: str, sha256: str, stripped_count: int,
            renamed: dict[str, str]) -> LoadReport:
    """The LoadReport of a loaded table (checks for empty columns first)."""
    empty_columns = [name for name in frame.columns if frame[name].isna().all()]
    if empty_columns:
        raise UserError(
            f"column '{empty_columns[0]}' in {path} has no values at all"
            + (f" (and {len(empty_columns) - 1} more)" if len(empty_columns) > 1 else "")
            + ": remove it from the file"
        )
    infinite, missing = _count_non_finite(frame)
    return LoadReport(
        path=shown, rows=len(frame), columns=frame.shape[1], sha256=sha256,
        stripped_names=stripped_count, renamed_duplicates=renamed,
        infinite_counts=infinite, missing_counts=missing,
        duplicate_rows=int(frame.duplicated().sum()),
    )


# ----------------------------------------------------------------------------- writing


def ensure_output_dir(path: Path) -> Path:
    """Create an output folder (and parents) and check that it can be written to."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".write-probe-", delete=True)
        probe.close()
    except OSError as error:
        raise UserError(
            f"cannot write to output directory {path}: {error.strerror or error}; choose another --output-dir"
        ) from None
    return path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it over `target` only if the block succeeds.

    On any exception (Ctrl-C included) the temporary file is removed and `target` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        yield temporary
        # mkstemp makes the file private (0600); artifacts get the usual mode under the umask.
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_json"):          # the evaluation's sections, written at the edge
        return _finite_floats(value.to_json())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite_floats(value: Any) -> Any:
    """JSON has no inf/NaN: write them as null rather than invalid tokens."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_floats(v) for v in value]
    return value


def write_json(target: Path | str, payload: Any) -> Path:
    """Write `payload` as indented JSON, atomically; inf/NaN become null."""
    target = Path(target)
    text = json.dumps(_finite_floats(payload), indent=2, default=_json_default, allow_nan=False)
    with atomic_path(target) as temporary:
        temporary.write_text(text + "\n", encoding="utf-8")
    return target


def write_text(target: Path | str, text: str) -> Path:
    """Write text atomically."""
    target = Path(target)
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return target


def write_csv(target: Path | str, frame: pd.DataFrame) -> Path:
    """Write a frame as CSV (no index), atomically."""
    target = Path(target)
    with atomic_path(target) as temporary:
        frame.to_csv(temporary, index=False)
    return target


def read_json(path: Path | str, what: str = "JSON file") -> Any:
    """Read a JSON file, turning a syntax error into a UserError that names the file and line."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{what} not found: {path}") from None
    except json.JSONDecodeError as error:
        raise UserError(
            f"{path} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            f"fix it or re-create it"
        ) from None
