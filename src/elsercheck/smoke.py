"""The smoke scenario: create an ELSER endpoint, wait for it, infer, list, delete.

Follows the documented workflow (seeds): after PUT, wait until the trained-model stats show
``fully_allocated`` with ``allocation_count == target_allocation_count`` before inferring.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from .endpoints import (
    DEFAULT_MODEL,
    Endpoints,
    HttpxTransport,
    LostAnswer,
    NotAllocated,
    elser_body,
    endpoint_prefix,
    wait_fully_allocated,
)
from .target import Target, TargetError

UNKNOWN_VERSION = "?"
SAMPLE_INPUTS = [
    "ELSER expands a passage into weighted terms for semantic search.",
    "How do adaptive allocations scale an inference deployment?",
]


class SmokeFailure(Exception):
    """A step of the scenario did not get the documented answer."""


@dataclass
class Step:
    name: str
    seconds: float
    detail: str = ""

    def line(self) -> str:
        return f"  ✓ {self.name:<30} {self.seconds:6.2f}s  {self.detail}"


@dataclass
class SmokeResult:
    target_version: str
    inference_id: str
    steps: list[Step] = field(default_factory=list)
    ok: bool = False
    error: str | None = None
    leftover: bool = False

    def summary(self, include_steps: bool = True) -> str:
        lines = [step.line() for step in self.steps] if include_steps else []
        if self.error:
            lines.append(f"  ✗ {self.error}")
        if self.leftover:
            lines.append(f"  ! could not delete {self.inference_id}; remove it by hand")
        total = sum(s.seconds for s in self.steps)
        outcome = "PASSED" if self.ok else "FAILED"
        lines.append(
            f"{outcome}: {len(self.steps)}/5 smoke steps in {total:.1f}s against Elasticsearch "
            f"{self.target_version} ({self.inference_id})"
        )
        return "\n".join(lines)


def check_reachable(
    client: httpx.Client, target: Target, require_product: bool = True
) -> dict[str, Any]:
    """``GET /``: the cluster's info, or a one-line ``TargetError``.

    The gate passes ``require_product=False``: a missing product header is then one of the
    contract violations it reports, not a reason to refuse the target.
    """
    response = None
    for attempt in range(3):
        try:
            response = client.get("/")
            break
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nobody there: say so now
            raise TargetError(
                f"cannot reach {target.url}: {exc.__class__.__name__}: {exc}"
            ) from None
        except httpx.HTTPError as exc:
            # An answer lost on the way (reset, cut short): a probe may ask again.
            if attempt == 2:
                raise TargetError(
                    f"cannot reach {target.url}: {exc.__class__.__name__}: {exc}"
                ) from None
    assert response is not None
    if response.status_code == 401:
        raise TargetError(f"{target.url} rejected the credentials (401)")
    if response.status_code != 200:
        raise TargetError(f"{target.url} answered GET / with {response.status_code}")
    product = response.headers.get("x-elastic-product") == "Elasticsearch"
    try:
        info = response.json()
    except ValueError:
        raise TargetError(f"{target.url} answered GET / with a body that is not JSON") from None
    # Refuse any other JSON service before running anything against it. Elasticsearch's GET /
    # is an object with version.number (MainResponse.toXContent, modules/rest-root/src/main/
    # java/org/elasticsearch/rest/root/MainResponse.java) and every answer carries
    # X-elastic-product (since 7.14). One of the two is enough: a cluster missing the header
    # still meets the gate, which reports that as a violation.
    if not isinstance(info, dict) or not (product or version_of(info) != UNKNOWN_VERSION):
        raise TargetError(
            f"{target.url} does not look like Elasticsearch: GET / has neither version.number "
            "nor the X-elastic-product header"
        )
    if require_product and not product:
        raise TargetError(f"{target.url} is not Elasticsearch (no X-elastic-product header)")
    return info


def version_of(info: dict[str, Any]) -> str:
    """The ``version.number`` of a ``GET /`` answer, :data:`UNKNOWN_VERSION` when it has none."""
    version = info.get("version")
    number = version.get("number") if isinstance(version, dict) else None
    return number if isinstance(number, str) and number else UNKNOWN_VERSION


def _expect(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise SmokeFailure(
            f"{what}: expected {status}, got {response.status_code}: {response.text[:300]}"
        )
    return response.json()


def run_smoke(
    target: Target,
    run_id: str,
    model_id: str = DEFAULT_MODEL,
    allocation_wait_seconds: float = 300.0,
    on_step: Callable[[Step], None] | None = None,
) -> SmokeResult:
    """Run the scenario; the endpoint is deleted even when a step fails."""
    prefix = endpoint_prefix(run_id)
    inference_id = prefix + "smoke"
    path = f"/_inference/sparse_embedding/{inference_id}"
    with target.client() as client:
        info = check_reachable(client, target)
        result = SmokeResult(version_of(info), inference_id)
        endpoints = Endpoints(HttpxTransport(client), prefix)

        def step(name: str, action: Callable[[], str]) -> None:
            started = time.monotonic()
            detail = action()
            done = Step(name, time.monotonic() - started, detail)
            result.steps.append(done)
            if on_step:
                on_step(done)

        def create() -> str:
            body = elser_body(model_id=model_id)
            response = endpoints.create(inference_id, body, timeout=120)
            # 408 means "still starting": the endpoint is stored and the deployment goes on.
            if response.status_code == 408:
                return "stored; deployment still starting (408)"
            _expect(response, 200, "create endpoint")
            return f"model {model_id}"

        def wait_allocated() -> str:
            try:
                stats = wait_fully_allocated(
                    endpoints.transport, inference_id, allocation_wait_seconds, interval_s=0.1
                )
            except NotAllocated as exc:
                raise SmokeFailure(str(exc)) from None
            status = stats["allocation_status"]
            return f"{status['allocation_count']}/{status['target_allocation_count']} allocations"

        def infer() -> str:
            body = _expect(client.post(path, json={"input": SAMPLE_INPUTS}), 200, "inference")
            results = body.get("sparse_embedding", [])
            if len(results) != len(SAMPLE_INPUTS) or not all(r.get("embedding") for r in results):
                raise SmokeFailure(
                    f"inference: expected {len(SAMPLE_INPUTS)} embeddings, got {body}"
                )
            tokens = sum(len(r["embedding"]) for r in results)
            return f"{len(results)} embeddings, {tokens} weighted tokens"

        def listing() -> str:
            body = _expect(client.get("/_inference/_all"), 200, "list endpoints")
            listed = [e["inference_id"] for e in body.get("endpoints", [])]
            if inference_id not in listed:
                raise SmokeFailure(f"list endpoints: {inference_id} missing from {listed}")
            return f"{len(listed)} endpoints listed"

        def delete() -> str:
            _expect(endpoints.delete(inference_id, force=False), 200, "delete endpoint")
            _expect(client.get(path), 404, "get after delete")
            return "gone (404 afterwards)"

        try:
            step("create ELSER endpoint", create)
            step("wait for fully_allocated", wait_allocated)
            step("sparse-embedding inference", infer)
            step("list endpoints", listing)
            step("delete endpoint", delete)
            result.ok = True
        except (SmokeFailure, httpx.HTTPError, LostAnswer) as exc:
            result.error = str(exc)
        finally:
            result.leftover = bool(endpoints.cleanup(sweep=True))
    return result
