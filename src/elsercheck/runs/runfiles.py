"""Loading one load run's files (``rundir.py``) into memory, once, for summaries and charts.

Inference requests can number millions in a long saturating run, so they are kept as
columns (``array`` of doubles, small codes for names and error kinds) rather than dicts:
about 20 bytes a request instead of a kilobyte. The other files are small and stay as rows.

Everything tolerates what an interrupted run leaves: missing files, a header-only CSV, a
truncated last line (counted in ``malformed_rows``), empty cells, a half-written JSON file
(read as absent, named in ``unreadable``). A file that is not UTF-8 text is no run file at
all: :class:`RunFileError`.
"""

from __future__ import annotations

import csv
import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeGuard

from . import rundir
from .metadata import RunMetadata

# request_type values the harness writes (rundir.REQUEST_COLUMNS): inference requests go
# through locust's POST; the lifecycle user reports durations as pseudo-requests.
INFERENCE_TYPE = "POST"
LIFECYCLE_TYPE = "LIFECYCLE"
OK_KIND = ""  # error_kind of a successful request


@dataclass
class InferenceRequests:
    """Columns of the inference (``POST``) rows of requests.csv, in file order."""

    elapsed_s: array = field(default_factory=lambda: array("d"))  # sent, seconds since start
    latency_ms: array = field(default_factory=lambda: array("d"))  # NaN when not recorded
    name_code: array = field(default_factory=lambda: array("I"))  # index into names
    kind_code: array = field(default_factory=lambda: array("I"))  # index into kinds; 0 = ok
    names: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=lambda: [OK_KIND])

    def __len__(self) -> int:
        return len(self.elapsed_s)

    def append(self, elapsed_s: float, latency_ms: float, name: str, kind: str) -> None:
        self.elapsed_s.append(elapsed_s)
        self.latency_ms.append(latency_ms)
        self.name_code.append(_code(self.names, name))
        self.kind_code.append(_code(self.kinds, kind))

    def completed_s(self, index: int) -> float:
        """When the answer (or the failure) arrived, in seconds since the run start."""
        latency = self.latency_ms[index]
        return self.elapsed_s[index] + (latency / 1000 if math.isfinite(latency) else 0.0)


def _code(table: list[str], value: str) -> int:
    # Few distinct values (buckets, error kinds): a linear scan beats a dict's upkeep here.
    try:
        return table.index(value)
    except ValueError:
        table.append(value)
        return len(table) - 1


class RunFileError(ValueError):
    """A run file that cannot be read as one (not UTF-8 text)."""


@dataclass
class RunFiles:
    """Everything one run directory holds, as far as it exists."""

    path: Path
    run: dict[str, Any] = field(default_factory=dict)
    inference: InferenceRequests = field(default_factory=InferenceRequests)
    lifecycle: list[dict[str, Any]] = field(default_factory=list)
    other_requests: list[dict[str, Any]] = field(default_factory=list)
    allocations: list[dict[str, Any]] = field(default_factory=list)
    expectations: list[dict[str, Any]] = field(default_factory=list)
    present: frozenset[str] = frozenset()  # which of RUN_FILES exist
    unreadable: dict[str, str] = field(default_factory=dict)  # present JSON file -> why not read
    malformed_rows: int = 0

    @property
    def run_id(self) -> str:
        return str(self.run.get("run_id") or self.path.name)

    @property
    def metadata(self) -> RunMetadata:
        """run.json, typed (``metadata.py``)."""
        return RunMetadata.from_json(self.run)


RUN_FILES = (
    rundir.RUN_JSON, rundir.REQUESTS_CSV, rundir.ALLOCATIONS_CSV, rundir.EXPECTATIONS_JSON,
)  # fmt: skip


def is_run_dir(path: Path) -> bool:
    """A directory holding at least one of the run files."""
    return path.is_dir() and any((path / name).is_file() for name in RUN_FILES)


def load_run(path: Path) -> RunFiles:
    """Read every run file present under ``path`` (a missing directory reads as empty)."""
    files = RunFiles(path=path)
    files.present = frozenset(name for name in RUN_FILES if (path / name).is_file())
    files.run = _read_json(path / rundir.RUN_JSON, files, dict, "a JSON object") or {}
    origin = epoch(files.run.get("started_at"))
    requests_csv, allocations_csv = path / rundir.REQUESTS_CSV, path / rundir.ALLOCATIONS_CSV
    try:
        files.malformed_rows += _read_requests(requests_csv, files, origin)
    except UnicodeDecodeError:
        raise RunFileError(f"{requests_csv} is not UTF-8 text") from None
    try:
        files.allocations = list(_rows(allocations_csv, origin))
    except UnicodeDecodeError:
        raise RunFileError(f"{allocations_csv} is not UTF-8 text") from None
    # A CSV with no valid row reads as absent, with the reason (a garbage file is no run).
    if rundir.REQUESTS_CSV in files.present and not (
        files.inference or files.lifecycle or files.other_requests
    ):
        files.unreadable[rundir.REQUESTS_CSV] = _no_rows(requests_csv, files.malformed_rows)
    if rundir.ALLOCATIONS_CSV in files.present and not files.allocations:
        files.unreadable[rundir.ALLOCATIONS_CSV] = _no_rows(allocations_csv, None)
    files.expectations = _expectations(
        _read_json(path / rundir.EXPECTATIONS_JSON, files, list | dict, "a JSON list")
    )
    return files


def _no_rows(path: Path, malformed: int | None) -> str:
    """Why a present CSV gave no row: no header naming its columns, or no valid row."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        try:
            header = next(csv.reader(handle), None) or []
        except csv.Error:
            header = []
    needed = ("request_type",) if path.name == rundir.REQUESTS_CSV else ("elapsed_s", "timestamp")
    if not set(needed) & set(header):
        return f"not a CSV with a {' or '.join(needed)} column"
    return "a CSV without a valid row" + (f" ({malformed} malformed)" if malformed else "")


def _read_json(path: Path, files: RunFiles, kind: Any, kind_name: str) -> Any:
    """The file's JSON if it is of ``kind``; else ``None``, with the reason in
    ``files.unreadable`` when the file exists (a half-written file reads as absent)."""
    if not path.is_file():
        return None
    try:
        data = rundir.read_json(path)
    except UnicodeDecodeError:
        files.unreadable[path.name] = "not UTF-8 text"
    except ValueError:
        files.unreadable[path.name] = "not valid JSON"
    except OSError as exc:
        files.unreadable[path.name] = exc.strerror or "cannot be read"
    else:
        if isinstance(data, kind):
            return data
        files.unreadable[path.name] = f"not {kind_name}"
    return None


def _expectations(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict):  # tolerate {"expectations": [...]}
        data = data.get("expectations")
    if not isinstance(data, list):
        return []
    return [item for item in data if isinstance(item, dict)]


def epoch(iso: Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (run.json's), None when it is not one."""
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and math.isfinite(value)


def _rows(path: Path, origin: float | None) -> Iterator[dict[str, Any]]:
    """rundir.read_csv rows with ``elapsed_s`` filled from ``timestamp`` when missing, and
    non-finite numbers (``inf``, ``nan``) as empty cells."""
    try:
        for row in rundir.read_csv(path):
            row = {
                key: None if isinstance(value, float) and not math.isfinite(value) else value
                for key, value in row.items()
            }
            timestamp = row.get("timestamp")
            if row.get("elapsed_s") is None and _finite(timestamp):
                origin = timestamp if origin is None else origin
                row["elapsed_s"] = timestamp - origin
            if _finite(row.get("elapsed_s")):
                yield row
    except csv.Error:
        return  # unreadable tail: keep what came before


def _read_requests(path: Path, files: RunFiles, origin: float | None) -> int:
    """Fill ``files`` from requests.csv; returns the number of unreadable rows.

    A hand-rolled reader rather than ``rundir.read_csv`` because it runs once per request.
    """
    if not path.is_file():
        return 0
    malformed = 0
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            return 0
        column = {name: index for index, name in enumerate(header)}
        if "request_type" not in column:
            return 0
        try:
            for cells in reader:
                if len(cells) != len(header):
                    malformed += 1  # e.g. the truncated last line of a killed writer
                    continue
                row = dict(zip(header, cells, strict=True))
                request_type = row["request_type"]
                elapsed = _elapsed(row, origin)
                if elapsed is None:
                    malformed += 1
                    continue
                timestamp = _float(row.get("timestamp"))
                if origin is None and timestamp is not None:
                    origin = timestamp - elapsed  # rows without elapsed_s count from here
                if request_type == INFERENCE_TYPE:
                    latency = _float(row.get("latency_ms"))
                    files.inference.append(
                        elapsed,
                        math.nan if latency is None or latency < 0 else latency,
                        row.get("name", ""),
                        row.get("error_kind", ""),
                    )
                else:
                    parsed = {key: _parse_cell(value) for key, value in row.items()}
                    parsed["elapsed_s"] = elapsed
                    parsed["name"] = row.get("name", "")  # names stay text, even "512"
                    parsed["error_kind"] = row.get("error_kind", "")
                    target = files.lifecycle if request_type == LIFECYCLE_TYPE else None
                    (target if target is not None else files.other_requests).append(parsed)
        except csv.Error:
            malformed += 1
    return malformed


def _elapsed(row: dict[str, str], origin: float | None) -> float | None:
    elapsed = _float(row.get("elapsed_s"))
    if elapsed is not None:
        return elapsed
    timestamp = _float(row.get("timestamp"))
    if timestamp is None:
        return None
    return timestamp - origin if origin is not None else 0.0


def _float(text: str | None) -> float | None:
    """A finite number, else ``None`` ("inf" or "nan" in a cell is as good as no value)."""
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _parse_cell(value: str) -> Any:
    """As ``rundir.read_csv`` parses a cell: int, else float, else text; empty → None."""
    if value == "":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value
