"""What ``snapshot``, ``verify`` and ``doctor`` share: connecting to the target read-only, the
probe's wait, the report directory of a command's findings."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx

from ..paths import reports_dir
from ..target import Target
from .options import CLUSTER_ALLOCATION_WAIT_S, UsageError, allocation_wait


@contextlib.contextmanager
def connect(target: Target) -> Iterator[httpx.Client]:
    """A client of ``target`` once ``GET /`` answered as Elasticsearch (else a one-line
    ``TargetError``: exit 2); closed when the block ends."""
    from ..smoke import check_reachable

    with target.client(timeout=60.0, retry=True) as client:
        check_reachable(client, target)
        yield client


def probe_wait(args: argparse.Namespace, on_embedded: bool) -> float:
    """How long a deployment may take to answer (scale from zero, start): ``--allocation-wait``,
    the embedded server's, else the cluster's default."""
    return allocation_wait(args, on_embedded) or CLUSTER_ALLOCATION_WAIT_S


def report_dir(args: argparse.Namespace, command: str, run_id: str) -> Path:
    """``--report-dir``, else ``reports/<command>/<run-id>``."""
    directory: Path = args.report_dir or reports_dir() / command / run_id
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@contextlib.contextmanager
def estate_errors() -> Iterator[None]:
    """A snapshot file or a cluster answer that cannot be used: one line, exit 2."""
    from ..estate.cluster import ClusterError
    from ..estate.snapshot import SnapshotError

    try:
        yield
    except (ClusterError, SnapshotError) as exc:
        raise UsageError(str(exc)) from None
