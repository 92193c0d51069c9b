"""What the defect and fault registries share: checking names given by a user."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def check_names(kind: str, names: Iterable[str], catalogue: Mapping[str, object]) -> None:
    """Raise ``ValueError`` naming the entries of ``names`` that ``catalogue`` lacks."""
    bad = sorted(set(names) - catalogue.keys())
    if bad:
        raise ValueError(
            f"unknown {kind} {', '.join(bad)} (elsercheck serve --list-{kind}s lists them)"
        )
