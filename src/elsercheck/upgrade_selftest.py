"""``elsercheck selftest``'s upgrade stage: proof that ``verify`` has teeth.

The defects that show only after a restart on a data directory (``caught_by="verify"`` in
``reference/breakage/defects.py``) are not the gate's: the gate creates what it tests. Each is
rehearsed as a user meets it: an estate built at the old version on a data directory, its
snapshot (``elsercheck snapshot``), a restart — at the new version, or the same one for an ML-node
restart — and ``elsercheck verify``. Each rehearsal runs twice on fresh copies of the
directory: without the defect ``verify`` must be green (no false alarm), with it ``verify`` must
report findings.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .estate import findings, snapshot
from .estate import verify as verifying
from .estate.findings import Finding
from .exit_codes import ExitCode
from .reference import persistence, versions
from .reference.breakage import defects
from .reference.config import ServerConfig
from .reference.serve import EmbeddedServer
from .run_id import new_run_id
from .timing import PRESETS

ELSER = ".elser_model_2_linux-x86_64"
WAIT_S = 120.0  # bound on every poll below; a busy machine is slow, never wrong
# verify's bound for deployments back at their minimum: a lost deployment waits all of it.
VERIFY_WAIT_S = 30.0
SCALE_TO_ZERO = {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 2}

# 8.12 stored an `elser` endpoint with `model_version` and no chunking settings (#124675; the
# shape ES's ElasticsearchInternalService.parsePersistedConfig migrates, see persistence.py).
LEGACY_812 = {
    "model_id": "legacy-elser",
    "task_type": "sparse_embedding",
    "service": "elser",
    "service_settings": {"num_allocations": 1, "num_threads": 1, "model_version": ELSER},
    "task_settings": {},
}


def elser_endpoint(
    allocations: int | None = 1,
    adaptive: dict[str, Any] | None = None,
    chunking: dict[str, Any] | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """A PUT body for an ELSER endpoint on the ``elasticsearch`` service."""
    settings: dict[str, Any] = {"model_id": ELSER, "num_threads": threads}
    if allocations is not None:
        settings["num_allocations"] = allocations
    if adaptive is not None:
        settings["adaptive_allocations"] = adaptive
    body: dict[str, Any] = {"service": "elasticsearch", "service_settings": settings}
    if chunking is not None:
        body["chunking_settings"] = chunking
    return body


def seed(data_dir: Path, written_by: str, endpoints: list[dict[str, Any]]) -> None:
    """A data directory as an older version left it (the hand-written shape the README shows)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    document = {"format": persistence.FORMAT, "written_by": written_by, "endpoints": endpoints}
    (data_dir / persistence.FILE).write_text(json.dumps(document))


def put(client: httpx.Client, inference_id: str, body: dict[str, Any]) -> None:
    answer = client.put(f"/_inference/sparse_embedding/{inference_id}", json=body)
    if answer.status_code != 200:
        raise RehearsalError(f"PUT {inference_id} answered {answer.status_code}: {answer.text}")


def wait_allocations(client: httpx.Client, deployment_id: str, count: int) -> None:
    """Poll the deployment stats until ``deployment_id`` is started (its model loaded) and
    serves exactly ``count`` allocations."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        stats = client.get("/_ml/trained_models/_stats").json().get("trained_model_stats", [])
        for entry in stats:
            deployment = entry.get("deployment_stats") or {}
            status = deployment.get("allocation_status") or {}
            if (
                deployment.get("deployment_id") == deployment_id
                and deployment.get("state") == "started"
                and status.get("allocation_count") == count == status.get("target_allocation_count")
            ):
                return
        time.sleep(0.2)
    raise RehearsalError(f"{deployment_id} never reached {count} allocations in {WAIT_S:.0f} s")


class RehearsalError(Exception):
    """The rehearsal itself could not run (not a verdict on verify)."""


Step = Callable[[httpx.Client], None]


def _nothing(client: httpx.Client) -> None:
    return None


@dataclass(frozen=True)
class Rehearsal:
    """One upgrade as a user meets it: ``build`` the estate at ``before`` (after ``legacy``
    endpoints were seeded as 8.12 left them), snapshot, ``settle`` (still at ``before``), restart
    at ``after`` and ``then`` act there before ``verify`` runs."""

    before: str
    after: str
    build: Step = _nothing
    settle: Step = _nothing
    then: Step = _nothing
    legacy: tuple[dict[str, Any], ...] = ()


def _chunked(client: httpx.Client) -> None:
    put(client, "chunked", elser_endpoint(chunking={"strategy": "word", "max_chunk_size": 20,
                                                    "overlap": 5}))  # fmt: skip


def _to_zero(client: httpx.Client) -> None:
    put(client, "to-zero", elser_endpoint(None, SCALE_TO_ZERO))
    wait_allocations(client, "to-zero", 1)


def _at_zero(client: httpx.Client) -> None:
    # The adaptive scaler's own decision after scale_to_zero_time without requests.
    wait_allocations(client, "to-zero", 0)


def _second_on_the_model(client: httpx.Client) -> None:
    wait_allocations(client, "to-zero", 0)  # restarted, at zero: then a new deployment
    put(client, "second", elser_endpoint(None, SCALE_TO_ZERO))


REHEARSALS: dict[str, Rehearsal] = {
    defects.CHUNKING_DROPPED_ON_UPGRADE: Rehearsal("9.4", "9.5", build=_chunked),
    # 8.12 is not modelled: the snapshot is taken on a copy of the seeded directory at 8.19
    # (migrated as ES migrates it), and verify runs against the directory as 8.12 left it.
    defects.LEGACY_MODEL_VERSION_UNMIGRATED: Rehearsal("8.19", "8.19", legacy=(LEGACY_812,)),
    defects.ZERO_ALLOCATION_LOST_ON_RESTART: Rehearsal("9.5", "9.5", _to_zero, _at_zero),
    defects.ZERO_ALLOCATION_DROPPED_ON_START: Rehearsal(
        "9.5", "9.5", _to_zero, _at_zero, then=_second_on_the_model
    ),
}


def _server(line: str, data_dir: Path, password: str, defect: str | None) -> EmbeddedServer:
    # Conformant: each defect is judged alone, without the modelled version's upstream bugs.
    return EmbeddedServer(
        ServerConfig(
            password=password,
            timing=PRESETS["fast"],
            conformant=True,
            es_version=versions.resolve(line),
            data_dir=data_dir,
            defects=frozenset({defect}) if defect else frozenset(),
        )
    )


def _client(server: EmbeddedServer, password: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=("elastic", password), timeout=60)


def _snapshot(rehearsal: Rehearsal, data_dir: Path, password: str) -> dict[str, Any]:
    """Build the estate at the old version and take its snapshot (no probe: the probe wakes
    deployments that sit at zero, which two rehearsals need there)."""
    if rehearsal.legacy:
        seed(data_dir, "8.12.2", list(rehearsal.legacy))
        copy = data_dir.with_name(data_dir.name + "-snapshot")
        shutil.copytree(data_dir, copy)
        data_dir = copy
    with _server(rehearsal.before, data_dir, password, None) as server, \
            _client(server, password) as client:  # fmt: skip
        rehearsal.build(client)
        document = snapshot.take(client, new_run_id(), False, WAIT_S)
        rehearsal.settle(client)
    return document


def _verify(
    rehearsal: Rehearsal, document: dict[str, Any], data_dir: Path, password: str,
    defect: str | None,
) -> list[Finding]:  # fmt: skip
    with _server(rehearsal.after, data_dir, password, defect) as server, \
            _client(server, password) as client:  # fmt: skip
        rehearsal.then(client)
        found, _ = verifying.verify(client, document, new_run_id(), False, VERIFY_WAIT_S)
    return found


@dataclass
class Outcome:
    """``verify`` after the rehearsed upgrade, without and with the defect."""

    clean: list[Finding]
    defective: list[Finding]

    @property
    def false_alarm(self) -> bool:
        return findings.exit_code(self.clean) != ExitCode.OK

    @property
    def caught(self) -> bool:
        return not self.false_alarm and findings.exit_code(self.defective) == ExitCode.FAILED

    def rules(self) -> list[str]:
        """What caught the defect: ``rule (subject)`` of each finding."""
        return [f"{f.rule} ({f.subject})" for f in self.defective if f.severity == findings.FINDING]


def rehearse(name: str, report_dir: Path | None = None) -> Outcome:
    """Rehearse the upgrade for defect ``name`` without and with it; with ``report_dir``, write
    verify.html and verify.json of the run with the defect there."""
    rehearsal = REHEARSALS[name]
    password = secrets.token_urlsafe(12)
    found: dict[str, list[Finding]] = {}
    for variant in ("clean", "defective"):
        with tempfile.TemporaryDirectory(prefix="elsercheck-upgrade-") as tmp:
            data_dir = Path(tmp) / "data"
            document = _snapshot(rehearsal, data_dir, password)
            defect = name if variant == "defective" else None
            found[variant] = _verify(rehearsal, document, data_dir, password, defect)
    outcome = Outcome(found["clean"], found["defective"])
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        context = {"defect": name, "upgrade": f"{rehearsal.before} → {rehearsal.after}"}
        findings.write_json(report_dir / "verify.json", "verify", context, outcome.defective)
        findings.write_html(report_dir / "verify.html", f"verify: {name}", context,
                            outcome.defective)  # fmt: skip
    return outcome
