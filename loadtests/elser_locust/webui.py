"""The allocation tab of the locust web UI (placeholder until the chart lands)."""

from __future__ import annotations

from typing import Any


def install(environment: Any, load: Any) -> None:
    return None
