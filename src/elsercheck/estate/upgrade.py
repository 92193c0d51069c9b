"""``upgrade-check``: what differs between two modelled versions, and which of it an estate
touches.

Sources, all data that exists already: the contract profiles (``contracts/profiles/*.toml``:
reason texts, statuses and error types, features; later ones ``extends`` earlier), the
reference server's versions registry (``reference/versions.py``: ``CHANGES`` and ``BUGS``), the
gate's known deviations (``contracts/known_deviations.toml``) and the estate bugs
(``known_bugs.py``).
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..contract_profiles import read_profile
from ..paths import resource_dir
from ..reference.versions import BUGS, CHANGES, RELEASES, UnknownVersion, line_key, resolve
from . import known_bugs
from .cluster import deployment_id_of, is_default
from .verify import minimum


@dataclass(frozen=True)
class Difference:
    """One thing that differs between the two versions."""

    kind: str  # reason, rule, feature, change, bug, known-deviation, estate-bug
    name: str
    before: str  # at --from
    after: str  # at --to
    source: str = ""
    touches: str = ""  # with --snapshot: what in the estate it touches

    def line(self) -> str:
        text = f"  [{self.kind}] {self.name}: {self.before} → {self.after}"
        if self.source:
            text += f"  ({self.source})"
        if self.touches:
            text += f"\n      touches your estate: {self.touches}"
        return text


def line_of(text: str) -> str:
    """``"9.4"``/``"9.4.8"`` → the modelled minor with a profile, or ``UnknownVersion``."""
    line = resolve(text).line
    if not (resource_dir("contracts") / "profiles" / f"{line}.toml").is_file():
        raise UnknownVersion(f"no contract profile for Elasticsearch {line}")
    return line


def profile(line: str) -> dict[str, Any]:
    """A contract profile with what it ``extends`` merged in, as the contract suite reads it."""
    return read_profile(resource_dir("contracts") / "profiles", line)


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if value == "":
        return "(not pinned)"
    return str(value)


def patch_number(text: str, line: str) -> str:
    """The version number to match bug rows against: the patch given (``9.3.2``), else the
    modelled patch of the minor (``RELEASES``)."""
    return text if text.count(".") == 2 else RELEASES[line].number


def differences(
    source: str, target: str, numbers: tuple[str, str] | None = None
) -> list[Difference]:
    """Everything that differs from ``source`` to ``target`` (two minors, either order);
    ``numbers``: the patch numbers the user gave, for the bug rows (default: the modelled)."""
    found: list[Difference] = []
    old, new = profile(source), profile(target)
    for table, kind in (("reasons", "reason"), ("rules", "rule"), ("features", "feature")):
        a, b = old.get(table, {}), new.get(table, {})
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                found.append(
                    Difference(
                        kind,
                        name,
                        _shown(a.get(name)),
                        _shown(b.get(name)),
                        f"contracts/profiles/{target}.toml",
                    )
                )
    low, high = sorted((source, target), key=line_key)
    for change in CHANGES:
        if line_key(low) < line_key(change.since) <= line_key(high):
            gained = line_key(target) >= line_key(change.since)  # upgrading across it
            before, after = ("absent", change.what) if gained else (change.what, "absent")
            found.append(Difference("change", f"{change.name} (since {change.since})", before,
                                    after, change.source))  # fmt: skip
    for bug in BUGS:
        at_a, at_b = source in bug.lines, target in bug.lines
        if at_a != at_b:
            found.append(
                Difference("bug", f"{bug.issue} {bug.defect}", _has(at_a), _has(at_b), bug.what)
            )
    # The two numbers apart: source and target may be one minor (9.2.1 → 9.2.8).
    number_a, number_b = numbers or (RELEASES[source].number, RELEASES[target].number)
    for row in _known_deviations():
        at_a = any(fnmatch.fnmatchcase(number_a, p) for p in row["versions"])
        at_b = any(fnmatch.fnmatchcase(number_b, p) for p in row["versions"])
        if at_a != at_b:
            found.append(
                Difference("known-deviation", row["test"], _has(at_a), _has(at_b), row["reason"])
            )
    modelled = {bug.issue.rsplit("#", 1)[-1] for bug in BUGS}
    for estate_bug in known_bugs.BUGS:
        if estate_bug.issue.rsplit("#", 1)[-1] in modelled:
            continue  # the reference server models it: listed once, as a bug row above
        at_a, at_b = estate_bug.affects(number_a), estate_bug.affects(number_b)
        if at_a != at_b:
            found.append(
                Difference(
                    "estate-bug",
                    estate_bug.issue,
                    _has(at_a),
                    _has(at_b),
                    f"{estate_bug.what} (fix: {estate_bug.fix})",
                )
            )
    return found


def _has(present: bool) -> str:
    return "present" if present else "absent"


def _known_deviations() -> list[dict[str, Any]]:
    path = resource_dir("contracts") / "known_deviations.toml"
    rows: list[dict[str, Any]] = tomllib.loads(path.read_text(encoding="utf-8")).get(
        "deviation", []
    )
    return rows


# -- which parts of an estate a difference touches -----------------------------------------------
def _chunking(estate: dict[str, Any]) -> str:
    ids = [e["inference_id"] for e in estate["endpoints"]
           if e.get("chunking_settings") and not is_default(e["inference_id"])]  # fmt: skip
    return f"endpoints with chunking settings: {', '.join(ids)}" if ids else ""


def _user_endpoints(estate: dict[str, Any]) -> str:
    ids = [e["inference_id"] for e in estate["endpoints"] if not is_default(e["inference_id"])]
    return f"endpoints you created (PUT/_update): {', '.join(ids)}" if ids else ""


def _semantic(estate: dict[str, Any]) -> str:
    fields = [f"{f['index']}.{f['field']}" for f in estate["semantic_text_fields"]]
    return f"semantic_text fields: {', '.join(fields)}" if fields else ""


def _eis(estate: dict[str, Any]) -> str:
    ids = [e["inference_id"] for e in estate["endpoints"] if e.get("service") == "elastic"]
    return f"EIS endpoints: {', '.join(ids)}" if ids else ""


def _scale_to_zero(estate: dict[str, Any]) -> str:
    """Deployments, and endpoints you created, that scale to zero (adaptive min 0)."""
    ids = [
        str(d["deployment_id"])
        for d in estate["deployments"]
        if (d.get("adaptive_allocations") or {}).get("enabled") and minimum(d) == 0
    ]
    for endpoint in estate["endpoints"]:
        adaptive = (endpoint.get("service_settings") or {}).get("adaptive_allocations") or {}
        inference_id = str(endpoint["inference_id"])
        if (
            adaptive.get("enabled")
            and not adaptive.get("min_number_of_allocations")
            and not is_default(inference_id)
            and deployment_id_of(endpoint) not in ids
        ):
            ids.append(inference_id)
    return f"deployments with min_number_of_allocations 0: {', '.join(ids)}" if ids else ""


def _elser_text_embedding(estate: dict[str, Any]) -> str:
    ids = [
        e["inference_id"]
        for e in estate["endpoints"]
        if e.get("task_type") == "text_embedding"
        and "elser" in str((e.get("service_settings") or {}).get("model_id", ""))
    ]
    return f"ELSER endpoints under text_embedding: {', '.join(ids)}" if ids else ""


def _stored_elser(estate: dict[str, Any]) -> str:
    ids = [
        e["inference_id"]
        for e in estate["endpoints"]
        if e.get("service") == "elser"
        or (deployment_id_of(e) and "model_version" in (e.get("service_settings") or {}))
    ]
    return f"endpoints stored by the 'elser' service: {', '.join(ids)}" if ids else ""


# First match wins: (pattern on a difference's kind and name, what it touches). Chunking and
# _update rules touch the endpoints a user created (the preconfigured ones are Elastic's).
TOUCHES: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    (r"137134|146806|scale.to.zero", _scale_to_zero),
    (r"124675", _stored_elser),
    (r"122249|elser-text-embedding", _elser_text_embedding),
    (r"\beis\b", _eis),
    (r"chunk", _chunking),
    (r"semantic|default_inference_id|default-id", _semantic),
    (r"update|num_threads|137127|rejected-put", _user_endpoints),
)


def touched(difference: Difference, estate: dict[str, Any]) -> str:
    """What of ``estate`` the difference touches ("" when nothing)."""
    text = f"{difference.kind} {difference.name}".lower()
    for pattern, check in TOUCHES:
        if re.search(pattern, text):
            return check(estate)
    return ""


def with_touches(found: list[Difference], estate: dict[str, Any]) -> list[Difference]:
    return [
        Difference(d.kind, d.name, d.before, d.after, d.source, touched(d, estate)) for d in found
    ]
