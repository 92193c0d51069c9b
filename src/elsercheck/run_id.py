"""Run identifiers: every endpoint the suite creates starts with its run's prefix."""

from __future__ import annotations

import secrets
import time

# The naming rule (``elsercheck-<run-id>-``) lives with the rest of the endpoint vocabulary.
from .endpoints import endpoint_prefix

__all__ = ["endpoint_prefix", "new_run_id"]


def new_run_id() -> str:
    """Sortable and unique: ``20261121t123456-ab12``, valid inside an inference id."""
    return time.strftime("%Y%m%dt%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)
