"""The schema-driven contract test never prints a credential.

Hypothesis reports a failing or flaky example as a call with all the test's arguments, written
by its own printer, which shows every dataclass field whatever ``repr=False`` says; that text
goes to the gate's output, junit.xml and gate.html. Under ``--fault dropped-connections`` such
failures are routine, so: no argument of ``test_operation_honours_schema`` may carry a secret,
as Hypothesis would print it (the gate run under that fault in test_faults.py scans the files
too; this check is deterministic).
"""

from __future__ import annotations

import base64
import inspect
from types import ModuleType

import httpx
import pytest
from hypothesis.internal.reflection import repr_call
from hypothesis.vendor.pretty import RepresentationPrinter, pretty

from elsercheck.target import Target
from tests.secret_scan import assert_no_secret

PASSWORD = "schema-args-S3cret"
API_KEY = base64.b64encode(b"key-id-9:schema-args-key-secret").decode()


@pytest.fixture(scope="module")
def test_schema(schema_test_module: ModuleType) -> ModuleType:
    return schema_test_module


def _fixture_values(target: Target, test_schema: ModuleType) -> dict[str, object]:
    """What contracts/conftest.py gives each fixture, credentials included."""
    client = target.client()
    return {
        "case": "<a schemathesis case>",
        "target": target,
        "es": client,
        "tracker": test_schema.EndpointTracker(client, "elsercheck-run-", 2),
        "run_prefix": "elsercheck-run-",
        "security_enabled": True,
        "request": "<pytest's FixtureRequest>",
    }


@pytest.mark.parametrize(
    "target",
    [
        Target("http://127.0.0.1:9200", username="elastic", password=PASSWORD),
        Target("http://127.0.0.1:9200", api_key=API_KEY),
    ],
    ids=["basic", "api-key"],
)
def test_printed_arguments_hold_no_secret(test_schema: ModuleType, target: Target) -> None:
    test = test_schema.test_operation_honours_schema
    values = _fixture_values(target, test_schema)
    parameters = list(inspect.signature(test).parameters)
    unknown = [name for name in parameters if name not in values]
    assert not unknown, f"add {unknown} to _fixture_values to check what Hypothesis prints"
    kwargs = {name: values[name] for name in parameters}
    # As Hypothesis prints a flaky example, and a failing one.
    flaky = repr_call(test, [], dict(kwargs))
    printer = RepresentationPrinter()
    printer.repr_call(test.__name__, [], dict(kwargs), force_split=True)
    secret = target.password or target.api_key
    assert secret
    # The session object that does carry the credentials prints redacted too.
    test_schema.ACCESS.load(target)
    assert test_schema.ACCESS.headers()["Authorization"].split()[0] in ("Basic", "ApiKey")
    assert_no_secret(
        secret, username=target.username,
        texts={"flaky example": flaky, "failing example": printer.getvalue(),
               "access repr": repr(test_schema.ACCESS), "access pretty": pretty(test_schema.ACCESS)},
    )  # fmt: skip
    assert isinstance(values["es"], httpx.Client)
    values["es"].close()  # type: ignore[union-attr]


def test_the_check_sees_a_printed_credential() -> None:
    # The printer does show repr=False fields: what this module guards against.
    target = Target("http://127.0.0.1:9200", username="elastic", password=PASSWORD)
    assert PASSWORD in pretty(target) and PASSWORD not in repr(target)
