"""Run identifiers: every endpoint the suite creates starts with its run's prefix."""

from __future__ import annotations

import secrets
import time

PREFIX = "elsercheck"


def new_run_id() -> str:
    """Sortable and unique: ``20261121t123456-ab12``, valid inside an inference id."""
    return time.strftime("%Y%m%dt%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


def endpoint_prefix(run_id: str) -> str:
    return f"{PREFIX}-{run_id}-"
