"""The Elasticsearch error envelope (ES ElasticsearchException.generateFailureXContent).

Every error the reference server answers is an :class:`EsError` rendered by :func:`render`.
Routing-level errors (unknown path, wrong method, bad content type) use Elasticsearch's flat
``{"error": "<text>", "status": N}`` shape instead; :class:`RoutingError` carries those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Exception type -> HTTP status where the type fixes it (ES ExceptionsHelper.status).
STATUS_BY_TYPE: dict[str, int] = {
    "validation_exception": 400,
    "action_request_validation_exception": 400,
    "illegal_argument_exception": 400,
    "illegal_state_exception": 500,
    "resource_not_found_exception": 404,
    "resource_already_exists_exception": 400,
    "es_rejected_execution_exception": 429,
    "x_content_parse_exception": 400,
    "parse_exception": 400,
    "model_deployment_timeout_exception": 408,
}


@dataclass
class EsError(Exception):
    """An Elasticsearch exception as it appears on the wire.

    ``status`` defaults from the exception type; ``status_exception`` and
    ``security_exception`` must be given one explicitly.
    """

    type: str
    reason: str
    status: int = 0
    headers: dict[str, list[str]] = field(default_factory=dict)
    caused_by: EsError | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # ElasticsearchException.addHttpHeader: sent as HTTP headers only, never in the body
    # (e.g. Retry-After of an upstream 429: ES ElasticInferenceServiceResponseHandler)
    http_headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.status:
            self.status = STATUS_BY_TYPE.get(self.type, 500)
        super().__init__(self.reason)

    def _cause_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "reason": self.reason}
        body.update(self.extra)
        if self.headers:
            body["header"] = self.headers
        return body

    def body(self) -> dict[str, Any]:
        """The JSON body: ``{"error": {...}, "status": N}``."""
        innermost = self
        while innermost.caused_by is not None:
            innermost = innermost.caused_by
        error: dict[str, Any] = {"root_cause": [innermost._cause_body()]}
        error.update(self._cause_body())
        if self.caused_by is not None:
            error["caused_by"] = self.caused_by._cause_body()
        # header comes last in Elasticsearch's rendering
        if "header" in error:
            error["header"] = error.pop("header")
        return {"error": error, "status": self.status}


def status_exception(reason: str, status: int = 400) -> EsError:
    """``ElasticsearchStatusException``: the most common inference API error."""
    return EsError("status_exception", reason, status)


def not_modelled(what: str, status: int = 501) -> EsError:
    """The refusal of a request element Elasticsearch has and the reference server does not
    model: named, never accepted and ignored."""
    return status_exception(f"The reference server does not model {what}", status)


def validation_failed(messages: list[str], type_: str = "validation_exception") -> EsError:
    """``Validation Failed: 1: a;2: b;`` as ``ValidationException`` formats it."""
    text = "".join(f"{i}: {m};" for i, m in enumerate(messages, start=1))
    return EsError(type_, f"Validation Failed: {text}")


@dataclass
class RoutingError(Exception):
    """Errors the REST controller answers before any handler: flat body, no envelope."""

    message: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}
