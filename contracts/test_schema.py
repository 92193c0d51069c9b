"""Schema-driven contract tests: schemathesis generates positive and negative requests for the
ELSER operations of the curated spec (``openapi/``: Elastic's official subset + our overlay)
and checks status codes, content types, headers and response schemas.

Safe on a shared cluster whatever schemathesis generates: the test body, not a generation
hook (hooks skip the examples phase), rewrites every inference id in a path to the run prefix,
caps allocation and thread counts, and deletes at once what a PUT stored by its answer; what
refused PUTs may have stored anyway waits for one listing per operation
(``EndpointTracker.after_generated_put``).
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import ignored_auth

from contract_support import EndpointTracker
from elsercheck.retry import RETRY_STATUSES, requests_session
from elsercheck.spec import ELSER_OPERATIONS, build_effective_spec
from elsercheck.target import Target

ID_PARAMETERS = ("inference_id", "elser_inference_id", "elasticsearch_inference_id")
MAX_GENERATED_ALLOCATIONS = 2
MAX_GENERATED_THREADS = 2
# Cross-field rules (overlap ≤ max/2, min ≤ max, …) are beyond OpenAPI 3.0, so a schema-valid
# request may still be rightly refused with 400: positive_data_acceptance would misfire.
# The official spec gives one URL several path templates with different methods
# (/_inference/{task_type}/{inference_id} vs …/{elser_inference_id}, upstream/), so checks of
# the methods a URL allows misjudge every real Elasticsearch: unsupported_method and
# allow_header_conformance are off too; test_routing.py checks 405 and Allow directly.
EXCLUDED_CHECKS = ["positive_data_acceptance", "unsupported_method", "allow_header_conformance"]


def load_schema() -> schemathesis.BaseSchema:
    """The curated spec, limited to the ELSER operations; the target comes at call time."""
    settings = {
        # Deterministic: a gate gives the same verdict for the same target every run.
        "generation": {
            "max-examples": int(os.environ.get("ELSERCHECK_MAX_EXAMPLES", "25")),
            "deterministic": True,
            # A gate reports failures with reproducers; minimising them costs minutes.
            "no-shrink": True,
            "database": "none",
        },
        "checks": {name: {"enabled": False} for name in EXCLUDED_CHECKS},
        "phases": {"stateful": {"enabled": False}},
    }
    loaded = schemathesis.openapi.from_dict(
        build_effective_spec(), config=schemathesis.Config.from_dict(settings)
    )
    return loaded.include(operation_id=list(ELSER_OPERATIONS))


schema = load_schema()
# Every test here is a generated case: -m "not schema" leaves the module uncollected (conftest).
pytestmark = pytest.mark.schema
# Proxy 502/503 answers are retried as everywhere in the suite (elsercheck.retry).
SESSION = requests_session()


# The operations whose credential-less and bad-credential probes were refused already (per
# process): enforcement is a property of the operation, so one confirmation per run is enough,
# as in `schemathesis run` (ignored_auth reads this set from its check context).
AUTH_ENFORCED: set[str] = set()


def ignored_auth_retrying_proxy_errors(ctx, response, case):  # type: ignore[no-untyped-def]
    """``ignored_auth``, once per operation, re-run when its credential-less probe met a proxy
    502/503.

    Schemathesis sends those probes without our session (so without its retries); the policy
    of ``elsercheck.retry`` is applied here instead: 502/503 only, up to 5 times, with backoff.
    """
    ctx.auth_enforced_operations = AUTH_ENFORCED
    for attempt in range(5):
        try:
            return ignored_auth(ctx, response, case)
        except Exception as failure:
            if not any(f"got `{status} " in str(failure) for status in RETRY_STATUSES):
                raise
            time.sleep(0.1 * 2**attempt)
    return ignored_auth(ctx, response, case)


# A serial per id: no two cases share one, so what a refused PUT may have stored waits for its
# operation's one listing (EndpointTracker.after_generated_put) without meeting a later case.
_SERIAL = itertools.count(1)


def _safe_id(prefix: str, value: Any) -> str:
    """A run-prefixed id that keeps the generated value's shape as far as ES ids allow."""
    text = re.sub(r"[^a-z0-9_\-.]", "", str(value).lower())[:40].strip("-_.")
    serial = next(_SERIAL)
    return f"{prefix}gen-{text}-{serial}" if text else f"{prefix}gen-{serial}"


def _cap(settings: Any) -> None:
    if not isinstance(settings, dict):
        return
    for key, ceiling in (("num_allocations", MAX_GENERATED_ALLOCATIONS),
                         ("num_threads", MAX_GENERATED_THREADS)):  # fmt: skip
        value = settings.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > ceiling:
            settings[key] = ceiling
    adaptive = settings.get("adaptive_allocations")
    if isinstance(adaptive, dict):
        for key in ("min_number_of_allocations", "max_number_of_allocations"):
            value = adaptive.get(key)
            if (
                isinstance(value, int)
                and not isinstance(value, bool)
                and value > MAX_GENERATED_ALLOCATIONS
            ):
                adaptive[key] = MAX_GENERATED_ALLOCATIONS


def make_safe(case: schemathesis.Case, prefix: str) -> str | None:
    """Confine the case to the run's own ids and bounded sizes; return the id it targets."""
    target_id = None
    for key in ID_PARAMETERS:
        if case.path_parameters and key in case.path_parameters:
            case.path_parameters[key] = target_id = _safe_id(prefix, case.path_parameters[key])
    if isinstance(case.body, dict):
        _cap(case.body.get("service_settings"))
        if case.path.endswith("/_update"):
            _drop_null_settings(case.body)
    return target_id


def _drop_null_settings(body: dict[str, Any]) -> None:
    """Every Elasticsearch version answers 500 to a JSON null directly inside an ``_update``
    body's settings objects (UpdateInferenceModelAction.Request.getContentAsSettings:
    ``entry.getValue() instanceof Object`` is false for null → INTERNAL_SERVER_ERROR "Failed to
    parse update request"). A known upstream deviation on every version, not a finding of this
    run: the generated body leaves such nulls out (README, "Elasticsearch versions")."""
    for key in ("service_settings", "task_settings", "chunking_settings"):
        settings = body.get(key)
        if isinstance(settings, dict):
            for name in [k for k, v in settings.items() if v is None]:
                del settings[name]


class TargetAccess:
    """Where and how the schema-driven test reaches the target, secrets out of every repr.

    Hypothesis prints a failing (or flaky) test's arguments with its own printer, which shows
    every dataclass field whatever ``repr=False`` says: a ``Target`` argument would put the
    password or API key into junit.xml and gate.html. So the credentials live here, filled by
    an autouse fixture, and are never one of the test's arguments.
    """

    def __init__(self) -> None:
        self.url = ""
        self.verify: str | bool = True
        self._authorization: str | None = None

    def load(self, target: Target) -> None:
        self.url = target.url
        self.verify = target.ca_certs or not target.insecure
        self._authorization = None
        if target.api_key:
            self._authorization = f"ApiKey {target.api_key}"
        elif target.username:
            pair = f"{target.username}:{target.password or ''}"
            self._authorization = f"Basic {base64.b64encode(pair.encode()).decode()}"

    def headers(self) -> dict[str, str]:
        """A fresh ``Authorization`` header (none without credentials)."""
        return {"Authorization": self._authorization} if self._authorization else {}

    def __repr__(self) -> str:
        return f"TargetAccess(url={self.url!r}, credentials=<redacted>)"

    def _repr_pretty_(self, printer, cycle) -> None:  # type: ignore[no-untyped-def]
        printer.text(repr(self))  # Hypothesis's and IPython's printers


ACCESS = TargetAccess()


@pytest.fixture(scope="module", autouse=True)
def _target_access(target: Target, tracker: EndpointTracker) -> Iterator[None]:
    ACCESS.load(target)
    yield
    tracker.clear_suspects()


# The operation whose cases ran last: the first case of the next one clears its suspects (a
# function-scoped fixture would be one per generated case under Hypothesis).
_LAST_OPERATION: list[str] = []


@schema.parametrize()
def test_operation_honours_schema(
    case: schemathesis.Case, run_prefix: str, tracker: EndpointTracker, security_enabled: bool,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    # The gate's report names the operation of a failure (JUnit has only the test's name).
    properties = request.node.user_properties
    if ("operation", case.operation.label) not in properties:
        properties.append(("operation", case.operation.label))
    if _LAST_OPERATION[-1:] != [case.operation.label]:
        tracker.clear_suspects()  # what the previous operation's refused PUTs stored
        _LAST_OPERATION[:] = [case.operation.label]
    created = make_safe(case, run_prefix)
    put_id = created if case.method.upper() == "PUT" else None
    status: int | None = None
    # Credentials travel as a header only, so ignored_auth can replace them with bad ones.
    try:
        response = case.call(
            base_url=ACCESS.url, session=SESSION, headers=ACCESS.headers(), timeout=120,
            verify=ACCESS.verify,
        )  # fmt: skip
        status = response.status_code
        additional = [ignored_auth_retrying_proxy_errors] if security_enabled else []
        case.validate_response(
            response, excluded_checks=[ignored_auth], additional_checks=additional,
            transport_kwargs={"session": SESSION, "verify": ACCESS.verify},  # the probe's TLS
        )  # fmt: skip
    finally:
        if put_id:
            tracker.after_generated_put(put_id, status)
