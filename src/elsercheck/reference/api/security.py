"""The security APIs a client of the inference API needs: API keys, tokens, authenticate."""

from __future__ import annotations

import base64
from typing import Any

from ..wire import timevalue
from ..wire.errors import EsError
from ..wire.router import Route
from ..wire.security import SUPERUSER
from .call import Call, Reply

CREATE_KEY = "cluster:admin/xpack/security/api_key/create"
INVALIDATE_KEY = "cluster:admin/xpack/security/api_key/invalidate"
CREATE_TOKEN = "cluster:admin/xpack/security/token/create"
AUTHENTICATE = "cluster:admin/xpack/security/user/authenticate"
TOKEN_LIFETIME_SECONDS = 1200


def _object(call: Call) -> dict[str, Any]:
    body = call.json()
    if not isinstance(body, dict):
        raise EsError("x_content_parse_exception", "[1:1] Expected START_OBJECT")
    return body


async def create_api_key(call: Call) -> Reply:
    body = _object(call)
    name = body.get("name")
    call.authorize()
    if not isinstance(name, str) or not name:
        raise EsError(
            "action_request_validation_exception", "Validation Failed: 1: api key name is required;"
        )
    descriptors = body.get("role_descriptors") or {}
    if not isinstance(descriptors, dict):
        raise EsError("x_content_parse_exception", "[1:1] failed to parse field [role_descriptors]")
    expiration = body.get("expiration")
    expiration_ms = None
    if expiration is not None:
        seconds = timevalue.parse(str(expiration), "expiration")
        expiration_ms = int(seconds * 1000) if seconds else None
    assert call.principal is not None
    key = call.state.security.create_api_key(call.principal, name, descriptors, expiration_ms)
    out: dict[str, Any] = {"id": key.id, "name": key.name}
    if key.expiration is not None:
        out["expiration"] = key.expiration
    out["api_key"] = key.secret
    out["encoded"] = base64.b64encode(f"{key.id}:{key.secret}".encode()).decode()
    return Reply(out)


async def invalidate_api_key(call: Call) -> Reply:
    body = _object(call)
    ids: list[str] = body.get("ids") or ([body["id"]] if isinstance(body.get("id"), str) else [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise EsError("x_content_parse_exception", "[1:1] failed to parse field [ids]")
    name = body.get("name") if isinstance(body.get("name"), str) else None
    owner = body.get("owner") is True
    if not ids and name is None and not owner:
        raise EsError(
            "action_request_validation_exception",
            "Validation Failed: 1: One of [api key id(s), api key name, username, realm name] "
            "must be specified if [owner] flag is false;",
        )
    security = call.state.security
    call.authorize(lambda who: security.authorize_invalidate(who, INVALIDATE_KEY, ids, name, owner))
    invalidated, previously = security.invalidate(
        ids, name, call.principal.username if owner and call.principal else None
    )
    return Reply(
        {
            "invalidated_api_keys": invalidated,
            "previously_invalidated_api_keys": previously,
            "error_count": 0,
        }
    )


async def create_token(call: Call) -> Reply:
    body = _object(call)
    call.authorize()
    security = call.state.security
    if not security.token_service:
        raise EsError(
            "feature_not_enabled_exception",
            "security tokens are not enabled",
            400,
            extra={"feature": "security_tokens"},
        )
    grant = body.get("grant_type")
    if grant == "password":
        header = (
            "Basic "
            + base64.b64encode(
                f"{body.get('username', '')}:{body.get('password', '')}".encode()
            ).decode()
        )
        principal = security.authenticate(header, call.uri)
    elif grant == "client_credentials" and call.principal is not None:
        principal = call.principal
    else:
        raise EsError(
            "action_request_validation_exception",
            f"Validation Failed: 1: grant_type [{grant}] is not supported;",
        )
    token = security.create_token(principal)
    return Reply({"access_token": token, "type": "Bearer", "expires_in": TOKEN_LIFETIME_SECONDS})


async def authenticate(call: Call) -> Reply:
    call.authorize()
    principal = call.principal
    assert principal is not None
    out: dict[str, Any] = {
        "username": principal.username,
        "roles": list(principal.roles) if principal.api_key is None else [],
        "full_name": None,
        "email": None,
        "metadata": {"_reserved": True} if principal.username == SUPERUSER else {},
        "enabled": True,
        "authentication_realm": {"name": "reserved", "type": "reserved"},
        "lookup_realm": {"name": "reserved", "type": "reserved"},
        "authentication_type": principal.authentication_type,
    }
    if principal.api_key is not None:
        out["api_key"] = {"id": principal.api_key.id, "name": principal.api_key.name}
    return Reply(out)


# Registered only with security on: with it off, Elasticsearch has no security realm to answer.
ROUTES = [
    Route("POST", "/_security/api_key", create_api_key, CREATE_KEY, (), "required"),
    Route("PUT", "/_security/api_key", create_api_key, CREATE_KEY, (), "required"),
    Route("DELETE", "/_security/api_key", invalidate_api_key, INVALIDATE_KEY, (), "required"),
    Route("POST", "/_security/oauth2/token", create_token, CREATE_TOKEN, (), "required"),
    Route("GET", "/_security/_authenticate", authenticate, AUTHENTICATE),
]
