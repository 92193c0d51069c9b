"""Support for the contract suite: target settings, version profiles, safe endpoint creation.

Nothing here knows the reference server: expectations come from ``profiles/`` (written from
Elastic's documentation) and the curated OpenAPI spec.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import functools
import json
import threading
import time
import tomllib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from elsercheck import endpoints
from elsercheck.contract_profiles import read_profile
from elsercheck.endpoints import ELSER_V2_X86 as ELSER_X86  # noqa: F401 (for the tests)
from elsercheck.endpoints import Endpoints, HttpxTransport, elser_body
from elsercheck.retry import retrying

HERE = Path(__file__).resolve().parent


# -- reproducers ----------------------------------------------------------------------------------
def curl(request: httpx.Request) -> str:
    """A curl command for ``request`` with credentials replaced by environment variables."""
    parts = ["curl", "-X", request.method, _quote(str(request.url))]
    authorization = request.headers.get("authorization", "")
    scheme = authorization.split(" ", 1)[0].lower()
    if scheme == "basic":
        parts += ["-u", '"$ELASTICSEARCH_USERNAME:$ELASTICSEARCH_PASSWORD"']
    elif scheme == "apikey":
        parts += ["-H", '"Authorization: ApiKey $ELASTICSEARCH_API_KEY"']
    elif authorization:
        parts += ["-H", '"Authorization: <redacted>"']
    content_type = request.headers.get("content-type")
    if content_type:
        parts += ["-H", _quote(f"Content-Type: {content_type}")]
    body = request.content
    if body:
        text = body.decode("utf-8", "replace")
        parts += ["-d", _quote(text if len(text) <= 2000 else text[:2000] + "…")]
    return " ".join(parts)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


class RequestRecorder:
    """Keeps the requests of the running test, to attach reproducers to its failure."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def record(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def take(self, last: int = 3) -> list[str]:
        taken, self.requests = self.requests[-last:], []
        return [curl(r) for r in taken]


RECORDER = RequestRecorder()


# -- every answer against its documented schema -------------------------------------------------
@functools.cache
def _answer_schema() -> Any:
    """The curated spec (Elastic's, with our overlay) as schemathesis reads it, built once."""
    import schemathesis

    from elsercheck.spec import build_effective_spec

    return schemathesis.openapi.from_dict(build_effective_spec())


# Set while the suite sends a request whose success answer only its status matters for: the
# cleanup DELETE after a schema-generated PUT that stored its endpoint, and the listing and
# DELETEs of what refused ones may have stored (DELETE successes are checked by the lifecycle
# tests that send them on purpose). Its error answers are still checked: a 404 carries the error
# envelope, and a broken envelope there is reported as it always was.
_UNCHECKED = contextvars.ContextVar("elsercheck_unchecked_answers", default=False)


@contextlib.contextmanager
def successes_unchecked() -> Iterator[None]:
    """Within the block, :func:`check_answer` leaves this thread's success answers (below
    400) alone; error answers are checked, and every request is still recorded for
    reproducers."""
    token = _UNCHECKED.set(True)
    try:
        yield
    finally:
        _UNCHECKED.reset(token)


def check_answer(response: httpx.Response) -> None:
    """Fail the request whose JSON answer does not match the schema its operation documents
    for that status: every field the specification or our overlay types, in every answer the
    suite receives (listings, stats, errors), not only in schema-generated cases. Answers of
    undocumented operations or statuses, and bodies that are not JSON, are left alone (the
    explicit checks judge those), and so are the successes under :func:`successes_unchecked`."""
    if "json" not in response.headers.get("content-type", ""):
        return
    if response.status_code < 400 and _UNCHECKED.get():
        return
    request = response.request
    operation = _answer_schema().find_operation_by_path(request.method.lower(), request.url.path)
    if operation is None:
        return
    response.read()
    try:
        operation.validate_response(response)
    except AssertionError as exc:  # schemathesis' Failure: one field of one answer
        raise AssertionError(_schema_failure(request, response, exc)) from None
    except BaseExceptionGroup as group:  # several at once
        raise AssertionError(_schema_failure(request, response, group)) from None


def _schema_failure(request: httpx.Request, response: httpx.Response, exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (f"{request.method} {request.url.path} answered {response.status_code} with a body "
            f"that does not match its documented schema: {' '.join(text[:3])[:400]}")  # fmt: skip


HOOKS = {"request": [RECORDER.record], "response": [check_answer]}


def client(base_url: str, verify: Any = True, **options: Any) -> httpx.Client:
    """An httpx client whose requests are recorded for reproducers.

    Like every client of the suite it retries only what Elastic documents as transient: a
    502/503 from a proxy in front of the cluster (e.g. while the model downloads), a few times
    with a short backoff. 4xx and other 5xx answers are never retried; see ``elsercheck.retry``.
    """
    return httpx.Client(base_url=base_url, event_hooks=HOOKS, transport=retrying(verify), **options)


# -- version profiles ----------------------------------------------------------------------------
def line_of(version_number: str) -> str:
    """``"9.4.8"`` → ``"9.4"``."""
    return ".".join(version_number.split(".")[:2])


def _line_key(line: str) -> tuple[int, ...]:
    return tuple(int(part) for part in line.split(".")[:2])


def profile_lines() -> list[str]:
    """The versions with a profile, oldest first."""
    return sorted((p.stem for p in (HERE / "profiles").glob("*.toml")), key=_line_key)


def _profile_data(line: str) -> dict[str, Any]:
    """A profile with what it ``extends`` merged in (its own rows win)."""
    return read_profile(HERE / "profiles", line)


class UsedRules:
    """The profile entries the running test consulted (attached to its JUnit case)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add(self, name: str) -> None:
        if name not in self.names:
            self.names.append(name)

    def take(self) -> list[str]:
        taken, self.names = self.names, []
        return taken


USED = UsedRules()


@dataclass(frozen=True)
class Profile:
    """What one Elasticsearch version answers: reason texts (``reasons``), statuses and error
    types that differ from the oldest profile (``rules``), behaviour present or not
    (``features``). ``exact`` is False when the target's version has no profile of its own:
    then only statuses and error types are checked."""

    version: str  # the target's version.number
    line: str  # the profile applied
    reasons: dict[str, str]
    rules: dict[str, dict[str, Any]]
    features: dict[str, bool]
    privileges: dict[str, str]
    exact: bool
    forced: bool = False

    def reason(self, name: str, /, **values: object) -> str | None:
        """The pinned reason text, or ``None`` when it is not checked (no exact profile, or a
        version that has no such text)."""
        USED.add(name)
        text = self.reasons[name]  # a KeyError is a typo in a test
        if not self.exact or not text:  # "": this version has no such text to pin
            return None
        return text.format(**values)

    def expect(self, rule: str, status: int, type_: str) -> tuple[int, str]:
        """Status and error type of ``rule`` at this version (the defaults unless it differs)."""
        row = self.rules.get(rule)
        if row is None:
            return status, type_
        USED.add(rule)
        return row.get("status", status), row.get("type", type_)

    def feature(self, name: str) -> bool:
        """Whether this version has the documented behaviour ``name`` (``features``)."""
        USED.add(name)
        return bool(self.features[name])

    def describe(self) -> str:
        """One line for the gate: which profile applied and how."""
        if self.forced:
            return f"profile {self.line} (forced with --profile; target reports {self.version})"
        if self.exact:
            return f"profile {self.line} (Elasticsearch {self.version})"
        return (f"profile {self.line} (nearest for Elasticsearch {self.version}, which has no "
                "profile: statuses and error types only)")  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.line, "target_version": self.version, "exact": self.exact,
                "forced": self.forced, "description": self.describe()}  # fmt: skip


class UnknownProfile(ValueError):
    pass


def load_profile(version_number: str, forced: str | None = None) -> Profile:
    """The profile of the target's ``major.minor``; ``forced`` (``--profile``) wins. Without
    one of its own: the nearest older profile (the oldest if none is older), statuses and
    error types only."""
    lines = profile_lines()
    if forced is not None:
        if forced not in lines:
            raise UnknownProfile(f"no contract profile {forced!r}; profiles: {', '.join(lines)}")
        line, exact = forced, True
    elif line_of(version_number) in lines:
        line, exact = line_of(version_number), True
    else:
        older = [v for v in lines if _line_key(v) < _line_key(line_of(version_number))]
        line, exact = (older or lines[:1])[-1], False
        warnings.warn(
            f"no contract profile for Elasticsearch {version_number}; using {line}'s, checking "
            f"statuses and error types only (profiles: {', '.join(lines)})",
            stacklevel=2,
        )
    data = _profile_data(line)
    return Profile(version_number, line, data["reasons"], data.get("rules", {}),
                   data.get("features", {}), data.get("privileges", {}), exact,
                   forced is not None)  # fmt: skip


def deviation_version(profile: Profile) -> str:
    """The version known deviations are matched against: the target's, or the forced
    profile's (a forced profile says which cluster to expect, bugs included)."""
    return f"{profile.line}.0" if profile.forced else profile.version


def known_deviations(version_number: str) -> list[dict[str, Any]]:
    """Entries of ``known_deviations.toml`` that apply to this version."""
    path = HERE / "known_deviations.toml"
    entries = tomllib.loads(path.read_text()).get("deviation", []) if path.exists() else []
    return [
        e for e in entries if any(fnmatch.fnmatch(version_number, v) for v in e.get("versions", []))
    ]


# -- assertions --------------------------------------------------------------------------------------
def assert_es_error(response: httpx.Response, status: int, type_: str, reason: str | None) -> None:
    """The Elasticsearch error envelope (ES ElasticsearchException) with this status, type and reason."""
    assert response.status_code == status, _describe(response)
    assert response.headers.get("x-elastic-product") == "Elasticsearch", "missing X-elastic-product"
    body = response.json()
    assert body.get("status") == status, _describe(response)
    error = body.get("error")
    assert isinstance(error, dict), f"no error envelope: {_describe(response)}"
    assert error.get("type") == type_, _describe(response)
    assert isinstance(error.get("root_cause"), list) and error["root_cause"], _describe(response)
    if reason is not None:
        assert error.get("reason") == reason, _describe(response)


def assert_routing_error(response: httpx.Response, status: int, message: str | None) -> None:
    """The REST controller's flat error shape ``{"error": "<text>", "status": N}``."""
    assert response.status_code == status, _describe(response)
    assert response.headers.get("x-elastic-product") == "Elasticsearch"
    body = response.json()
    assert body.get("status") == status and isinstance(body.get("error"), str), _describe(response)
    if message is not None:
        assert body["error"] == message, _describe(response)


def _describe(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text[:500]}"


# -- endpoints the suite creates ------------------------------------------------------------------
class EndpointTracker(Endpoints[httpx.Response]):
    """Creates endpoints under the run prefix, bounds how many live at once, deletes them all.

    The create/delete/cleanup policy is ``elsercheck.endpoints``'; this adds the bound on live
    deployments and the leftovers file. Only ids under the prefix are ever deleted.
    """

    def __init__(self, client: httpx.Client, prefix: str, max_alive: int,
                 leftovers_file: Path | None = None) -> None:  # fmt: skip
        super().__init__(HttpxTransport(client), prefix)
        self.client = client
        self.max_alive = max_alive
        self.leftovers_file = leftovers_file
        self._slots = threading.BoundedSemaphore(max_alive)
        self.suspects: set[str] = set()  # refused generated PUTs: see after_generated_put

    def put(self, inference_id: str, body: dict[str, Any], *, task_type: str = "sparse_embedding",
            params: dict[str, str] | None = None, timeout: float = 120.0) -> httpx.Response:  # fmt: skip
        """PUT an endpoint (must carry the run prefix); tracked unless the target refused it."""
        if not inference_id.startswith(self.prefix):
            raise ValueError(f"{inference_id} lacks the run prefix {self.prefix}")
        # A worker runs its tests one at a time: a slot that does not free up soon was leaked
        # (a test that did not delete its endpoint); fail rather than wait forever.
        if not self._slots.acquire(timeout=5):
            raise AssertionError(
                f"more than --max-deployments={self.max_alive} endpoints alive: "
                f"{', '.join(self.created)}"
            )
        try:
            return self.create(
                inference_id, body, task_type=task_type, params=params, timeout=timeout
            )
        finally:
            if inference_id not in self.created:  # not stored: its slot is free again
                self._slots.release()

    def discard(self, inference_id: str) -> bool:
        """Delete what a schema-generated PUT may have stored, under the policy of
        :meth:`remove` (lost answers asked again, 409 waited out); True when gone.

        A success answer is read for its status only (its body is the lifecycle tests'
        subject); an error answer is checked against its schema as every other. What will not
        go stays for the session's sweep, which reports it as a leftover."""
        self.suspects.discard(inference_id)
        with successes_unchecked():
            return self.remove(inference_id)

    def after_generated_put(self, inference_id: str, status: int | None) -> None:
        """What follows a schema-generated PUT (a create or an ``_update``).

        Stored by its answer (2xx, or 408: stored while the deployment starts) or answer lost:
        deleted at once, since it may hold a deployment. Refused: a target may still have stored
        it (elastic/elasticsearch#137127: a PUT refused at deployment start is stored), but then
        with no deployment, so it waits as a suspect for :meth:`clear_suspects`, one listing
        for many cases, instead of a DELETE per case (most generated PUTs are refused)."""
        if status is None or status < 300 or status == 408:
            self.discard(inference_id)
        else:
            self.suspects.add(inference_id)

    def clear_suspects(self) -> None:
        """Delete the suspects the target lists (one ``GET /_inference/_all``); each one,
        under the policy of :meth:`remove`, when the listing cannot tell."""
        if not self.suspects:
            return
        with successes_unchecked():
            listed = self.listed()
        stored = self.suspects if listed is None else self.suspects.intersection(listed)
        for inference_id in sorted(stored):
            self.discard(inference_id)
        self.suspects.clear()

    def forget(self, inference_id: str) -> bool:
        forgotten = super().forget(inference_id)
        if forgotten:
            self._slots.release()
        return forgotten

    def cleanup(self, sweep: bool = True) -> list[str]:
        """Delete everything tracked or listed under the prefix; the ids that would not go."""
        if self.client.is_closed:  # already cleaned up when the session's client closed
            return sorted(self.created)
        failed = super().cleanup(sweep=sweep)
        if self.leftovers_file is not None and failed:
            existing = []
            if self.leftovers_file.exists():
                existing = json.loads(self.leftovers_file.read_text())
            self.leftovers_file.write_text(json.dumps(sorted({*existing, *failed})))
        return failed


# The first deployment of this process (one xdist worker) that never became fully allocated:
# later tests that need a deployment fail at once naming it, instead of each waiting it out.
_FIRST_NOT_ALLOCATED: list[str] = []


def consistent_allocation_status(stats: dict[str, Any]) -> None:
    """One stats answer must not contradict itself: ES computes ``state`` from the counts
    (ES AllocationStatus.calculateState: ``started`` while allocation_count <
    target_allocation_count, ``fully_allocated`` only when the count reaches the target)."""
    status = stats.get("allocation_status") or {}
    count, target = status.get("allocation_count"), status.get("target_allocation_count")
    if (
        status.get("state") == "fully_allocated"
        and isinstance(count, int)
        and isinstance(target, int)
        and count < target
    ):
        raise AssertionError(
            f"{stats.get('deployment_id')}: stats contradict themselves: state fully_allocated "
            f"with allocation_count {count} < target_allocation_count {target}"
        )


def wait_fully_allocated(client: httpx.Client, inference_id: str, seconds: float) -> dict[str, Any]:
    """Poll the trained model stats until the seeds' condition holds; return the stats entry.

    A self-contradicting answer fails at once; after one deployment of this worker never became
    allocated, later waits fail at once naming it."""
    if _FIRST_NOT_ALLOCATED:
        raise AssertionError(
            f"{inference_id}: not waiting; an earlier deployment never became fully allocated: "
            f"{_FIRST_NOT_ALLOCATED[0]}"
        )
    try:
        return endpoints.wait_fully_allocated(
            HttpxTransport(client), inference_id, seconds, inspect=consistent_allocation_status
        )
    except endpoints.NotAllocated as exc:
        if exc.timed_out:
            _FIRST_NOT_ALLOCATED.append(str(exc))
        raise AssertionError(str(exc)) from None


@contextlib.contextmanager
def started_endpoint(
    es: httpx.Client, tracker: EndpointTracker, label: str, allocation_wait: float
) -> Iterator[str]:
    """A started ELSER endpoint of this run (PUT, then ``fully_allocated``); deleted at the end
    (with ``force``: an index of the run may still name it)."""
    inference_id = tracker.new_id(label)
    try:
        response = tracker.put(inference_id, elser_body())
        assert response.status_code in (200, 408), response.text
        wait_fully_allocated(es, inference_id, allocation_wait)
        yield inference_id
    finally:
        tracker.delete(inference_id)


def wait_zero_allocations(es: httpx.Client, inference_id: str, wait: float) -> None:
    """Poll the deployment stats until ``inference_id`` has scaled to zero allocations (bounded
    by three scale-to-zero waits and 30 s; fails the test beyond)."""
    deadline = time.monotonic() + wait * 3 + 30
    while time.monotonic() < deadline:
        stats = es.get(f"/_ml/trained_models/{inference_id}/_stats").json()
        if (
            stats["trained_model_stats"][0]["deployment_stats"]["allocation_status"][
                "allocation_count"
            ]
            == 0
        ):
            return
        time.sleep(0.5)
    pytest.fail(f"{inference_id} did not scale to zero within {wait * 3 + 30:.0f}s")


def adaptive_body(min_allocations: int, max_allocations: int) -> dict[str, Any]:
    """An ELSER endpoint with adaptive allocations and no ``num_allocations`` (StartTrainedModelDeploymentAction forbids both)."""
    adaptive = {
        "enabled": True,
        "min_number_of_allocations": min_allocations,
        "max_number_of_allocations": max_allocations,
    }
    body = elser_body(adaptive_allocations=adaptive)
    del body["service_settings"]["num_allocations"]
    return body
