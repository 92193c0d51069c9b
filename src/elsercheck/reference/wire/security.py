"""Authentication and cluster-privilege authorization as ES 8+/9 does it (ES SecurityRestFilter).

Principals: the built-in ``elastic`` superuser (Basic), API keys created with
``POST /_security/api_key`` (``Authorization: ApiKey base64(id:key)``) and, when the token
service is on (Elasticsearch's default with HTTPS), Bearer tokens from
``POST /_security/oauth2/token``.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import EsError

SUPERUSER = "elastic"

# Action -> cluster privileges that grant it, in the resolver's order (ES ClusterPrivilegeResolver).
PRIVILEGES_BY_ACTION: dict[str, tuple[str, ...]] = {
    "cluster:admin/xpack/inference/put": ("manage_inference", "manage", "all"),
    "cluster:admin/xpack/inference/delete": ("manage_inference", "manage", "all"),
    "cluster:admin/xpack/inference/update": ("manage_inference", "manage", "all"),
    "cluster:monitor/xpack/inference/get": (
        "monitor_inference", "manage_inference", "monitor", "manage", "all"
    ),
    "cluster:monitor/xpack/inference": (
        "monitor_inference", "manage_inference", "monitor", "manage", "all"
    ),
    "cluster:monitor/xpack/ml/inference/stats/get": (
        "monitor_ml", "manage_ml", "monitor", "manage", "all"
    ),
    # the trained-model path (ES ClusterPrivilegeResolver: MONITOR_ML cluster:monitor/xpack/ml/*,
    # MANAGE_ML cluster:admin/xpack/ml/* and cluster:monitor/xpack/ml/*)
    "cluster:monitor/xpack/ml/inference/get": (
        "monitor_ml", "manage_ml", "monitor", "manage", "all"
    ),
    "cluster:monitor/xpack/ml/trained_models/deployment/infer": (
        "monitor_ml", "manage_ml", "monitor", "manage", "all"
    ),
    "cluster:admin/xpack/ml/inference/put": ("manage_ml", "manage", "all"),
    "cluster:admin/xpack/ml/inference/delete": ("manage_ml", "manage", "all"),
    # Put/DeleteTrainedModelAliasAction.NAME (manage_ml: cluster:admin/xpack/ml/*)
    "cluster:admin/xpack/ml/inference/model_aliases/put": ("manage_ml", "manage", "all"),
    "cluster:admin/xpack/ml/inference/model_aliases/delete": ("manage_ml", "manage", "all"),
    # PutTrainedModelDefinitionPartAction / PutTrainedModelVocabularyAction .NAME (refused: 501)
    "cluster:admin/xpack/ml/trained_models/part/put": ("manage_ml", "manage", "all"),
    "cluster:admin/xpack/ml/trained_models/vocabulary/put": ("manage_ml", "manage", "all"),
    "cluster:admin/xpack/ml/trained_models/deployment/start": ("manage_ml", "manage", "all"),
    "cluster:admin/xpack/ml/trained_models/deployment/stop": ("manage_ml", "manage", "all"),
    "cluster:admin/xpack/ml/trained_models/deployment/update": ("manage_ml", "manage", "all"),
    # ingest pipelines (ClusterPrivilegeResolver: MANAGE_INGEST_PIPELINES and MANAGE_PIPELINE
    # cluster:admin/ingest/pipeline/*, READ_PIPELINE get and simulate)
    "cluster:admin/ingest/pipeline/put": (
        "manage_ingest_pipelines", "manage_pipeline", "manage", "all"
    ),
    "cluster:admin/ingest/pipeline/delete": (
        "manage_ingest_pipelines", "manage_pipeline", "manage", "all"
    ),
    "cluster:admin/ingest/pipeline/get": (
        "read_pipeline", "manage_ingest_pipelines", "manage_pipeline", "manage", "all"
    ),
    "cluster:admin/ingest/pipeline/simulate": (
        "read_pipeline", "manage_ingest_pipelines", "manage_pipeline", "manage", "all"
    ),
    "cluster:monitor/main": ("monitor", "manage", "all"),
    "cluster:monitor/xpack/usage": ("monitor", "manage", "all"),  # XPackUsageAction
    "cluster:admin/xpack/security/api_key/create": (
        "manage_own_api_key", "manage_api_key", "manage_security", "all"
    ),
    "cluster:admin/xpack/security/api_key/invalidate": (
        "manage_own_api_key", "manage_api_key", "manage_security", "all"
    ),
    "cluster:admin/xpack/security/token/create": ("manage_token", "manage_security", "all"),
    "cluster:admin/xpack/security/user/authenticate": (),  # every authenticated principal
}  # fmt: skip

# Index action -> index privileges that grant it (IndexPrivilege: the named privileges' action
# patterns; listed as AuthorizationDenialMessages lists them, narrowest first).
INDEX_PRIVILEGES_BY_ACTION: dict[str, tuple[str, ...]] = {
    "indices:admin/create": ("create_index", "manage", "all"),
    "indices:admin/delete": ("delete_index", "manage", "all"),
    "indices:admin/mappings/get": ("view_index_metadata", "manage", "all"),
    "indices:admin/refresh": ("maintenance", "manage", "all"),
    # IndexPrivilege.VIEW_METADATA grants "indices:admin/resolve/*" (ResolveIndexAction)
    "indices:admin/resolve/index": ("view_index_metadata", "manage", "all"),
    "indices:data/write/bulk[s]": ("create_doc", "create", "index", "write", "all"),
    # a bulk's items, each authorized on its index (AuthorizationService.authorizeBulkItems);
    # auto-creating an index (AutoCreateAction) is not in write: IndexPrivilege.AUTO_CONFIGURE,
    # CREATE_INDEX, MANAGE
    # the bulk itself is a composite action: granted when any index privilege of the role
    # grants its name, whatever the indices (RBACEngine.authorizeIndexAction, isCompositeAction)
    "indices:data/write/bulk": ("create_doc", "create", "index", "delete", "write", "all"),
    "indices:admin/auto_create": ("auto_configure", "create_index", "manage", "all"),
    "indices:data/write/index:op_type/index": ("create", "index", "write", "all"),
    "indices:data/write/index:op_type/create": ("create_doc", "create", "index", "write", "all"),
    "indices:data/write/delete": ("delete", "write", "all"),
    "indices:data/write/update": ("index", "write", "all"),
    "indices:data/read/search": ("read", "all"),
    "indices:data/read/get": ("read", "all"),  # IndexPrivilege.READ: indices:data/read/*
    "indices:admin/get": ("view_index_metadata", "manage", "all"),  # IndexPrivilege.VIEW_METADATA
    "indices:monitor/settings/get": ("monitor", "view_index_metadata", "manage", "all"),
    "indices:admin/settings/update": ("manage", "all"),  # IndexPrivilege.MANAGE: indices:admin/*
}

CLUSTER_PRIVILEGES = frozenset(p for grants in PRIVILEGES_BY_ACTION.values() for p in grants) | {
    "none", "monitor_ml", "manage_ml", "read_security"
}  # fmt: skip

OWN_KEYS = "manage_own_api_key"

WWW_AUTHENTICATE_BASIC = 'Basic realm="security", charset="UTF-8"'
WWW_AUTHENTICATE_BEARER = 'Bearer realm="security"'
WWW_AUTHENTICATE_APIKEY = "ApiKey"

MESSAGES = {
    "missing": "missing authentication credentials for REST request [{uri}]",
    "bad_user": "unable to authenticate user [{user}] for REST request [{uri}]",
    "bad_credentials": (
        "unable to authenticate with provided credentials and anonymous access is not allowed for "
        "this request"
    ),
    "bad_basic_encoding": "invalid basic authentication header encoding",
    "bad_basic_value": "invalid basic authentication header value",
    "unauthorized": (
        "action [{action}] is unauthorized for {who}, this action is granted by the cluster "
        "privileges [{privileges}]"
    ),
    "derived_key": (
        "creating derived api keys requires an explicit role descriptor that is empty (has no "
        "privileges)"
    ),
    "unauthorized_index": (
        "action [{action}] is unauthorized for {who} on indices [{indices}], this action is "
        "granted by the index privileges [{privileges}]"
    ),
    "unauthorized_composite": (
        "action [{action}] is unauthorized for {who}, this action is granted by the index "
        "privileges [{privileges}]"
    ),
    "unknown_privilege": (
        "unknown cluster privilege [{name}]. a privilege must be either one of the predefined "
        "cluster privilege names [{known}] or a pattern over one of the available cluster actions"
    ),
}


@dataclass
class ApiKey:
    id: str
    name: str
    secret: str
    owner: str
    privileges: frozenset[str] | None  # None: inherits the owner's (superuser)
    created: int = field(default_factory=lambda: int(time.time() * 1000))
    expiration: int | None = None
    invalidated: bool = False
    # role descriptors' "indices": (name patterns, privileges); None inherits the owner's
    index_privileges: tuple[tuple[tuple[str, ...], frozenset[str]], ...] | None = None


@dataclass(frozen=True)
class Principal:
    username: str
    roles: tuple[str, ...]
    privileges: frozenset[str] | None  # None = superuser: everything
    api_key: ApiKey | None = None
    authentication_type: str = "realm"

    @property
    def index_privileges(self) -> tuple[tuple[tuple[str, ...], frozenset[str]], ...] | None:
        """None: every index privilege (superuser, or a key inheriting it)."""
        return None if self.api_key is None else self.api_key.index_privileges

    def describe(self) -> str:
        if self.api_key is not None:
            return f"API key id [{self.api_key.id}] of user [{self.username}]"
        return f"user [{self.username}] with effective roles [{','.join(sorted(self.roles))}]"


class Security:
    """Credentials and privilege checks for the reference server."""

    def __init__(self, password: str, token_service: bool) -> None:
        self.password = password
        self.token_service = token_service
        self.api_keys: dict[str, ApiKey] = {}
        self.tokens: dict[str, Principal] = {}
        self.superuser = Principal(SUPERUSER, ("superuser",), None)
        # The last Basic credentials verified, as sent (base64) with the password they matched:
        # ES's CachingUsernamePasswordRealm.authenticateWithCache (the reserved realm's base)
        # keeps a user's latest valid credentials and honours the same ones again without the
        # authentication source; any other value goes through the full check.
        self._verified_basic: tuple[str, str] | None = None

    # -- authentication ----------------------------------------------------------------------
    def www_authenticate(self) -> list[str]:
        values = [WWW_AUTHENTICATE_BASIC]
        if self.token_service:
            values.append(WWW_AUTHENTICATE_BEARER)
        values.append(WWW_AUTHENTICATE_APIKEY)
        return values

    def _unauthenticated(self, reason: str, **extra: Any) -> EsError:
        return EsError(
            "security_exception",
            reason,
            401,
            headers={"WWW-Authenticate": self.www_authenticate()},
            extra=extra,
        )

    def authenticate(self, authorization: str | None, uri: str) -> Principal:
        """The principal behind an ``Authorization`` header, or a 401 ``EsError``."""
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "basic" and credentials:
            return self._basic(credentials, uri)
        if scheme == "apikey" and credentials:
            return self._api_key(credentials)
        if scheme == "bearer" and credentials and self.token_service:
            principal = self.tokens.get(credentials)
            if principal is None:
                raise self._unauthenticated(
                    MESSAGES["bad_credentials"],
                    additional_unsuccessful_credentials="token: invalid token",
                )
            return principal
        raise self._unauthenticated(MESSAGES["missing"].format(uri=uri))

    def _basic(self, credentials: str, uri: str) -> Principal:
        verified = self._verified_basic
        # compared in constant time, as the full check compares the password
        if (
            verified is not None
            and verified[1] is self.password
            and _same_secret(credentials, verified[0])
        ):
            return self.superuser
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):  # ValueError: non-ASCII header text
            raise self._unauthenticated(MESSAGES["bad_basic_encoding"]) from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise self._unauthenticated(MESSAGES["bad_basic_value"])
        if user == SUPERUSER and _same_secret(password, self.password):
            self._verified_basic = (credentials, self.password)
            return self.superuser
        raise self._unauthenticated(MESSAGES["bad_user"].format(user=user, uri=uri))

    def _api_key(self, credentials: str) -> Principal:
        try:
            key_id, _, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, ValueError):
            key_id, secret = "", ""
        key = self.api_keys.get(key_id)
        if key is None:
            failure = f"API key: unable to find apikey with id {key_id}"
        elif key.invalidated:
            failure = f"API key: api key [{key_id}] has been invalidated"
        elif key.expiration is not None and key.expiration < time.time() * 1000:
            failure = "API key: api key is expired"
        elif not _same_secret(secret, key.secret):
            failure = f"API key: invalid credentials for API key [{key_id}]"
        else:
            return Principal(key.owner, (), key.privileges, key, "api_key")
        raise self._unauthenticated(
            MESSAGES["bad_credentials"], additional_unsuccessful_credentials=failure
        )

    # -- authorization -----------------------------------------------------------------------
    def authorize(self, principal: Principal, action: str) -> None:
        grants = PRIVILEGES_BY_ACTION[action]
        if principal.privileges is None or not grants or principal.privileges & set(grants):
            return
        raise _denied(principal, action, grants)

    def authorize_index(self, principal: Principal, action: str, indices: list[str]) -> None:
        """An index action on ``indices``: every index needs a role entry whose name pattern
        matches it and whose privileges grant the action (``IndicesPermission.authorize``)."""
        grants = set(INDEX_PRIVILEGES_BY_ACTION[action])
        held = principal.index_privileges
        if principal.privileges is None and held is None:
            return
        entries = held or ()
        if all(any(privileges & grants and any(fnmatch.fnmatchcase(name, p) for p in patterns)
                   for patterns, privileges in entries) for name in indices):  # fmt: skip
            return
        raise EsError(
            "security_exception",
            MESSAGES["unauthorized_index"].format(
                action=action, who=principal.describe(), indices=",".join(indices),
                privileges=",".join(INDEX_PRIVILEGES_BY_ACTION[action]),
            ),
            403,
        )  # fmt: skip

    def authorize_composite(self, principal: Principal, action: str) -> None:
        """A composite index action (bulk): some role entry's privileges grant the action,
        on whatever indices; each item is authorized on its own index afterwards."""
        grants = set(INDEX_PRIVILEGES_BY_ACTION[action])
        held = principal.index_privileges
        if principal.privileges is None and held is None:
            return
        if any(privileges & grants for _, privileges in held or ()):
            return
        raise EsError(
            "security_exception",
            MESSAGES["unauthorized_composite"].format(
                action=action, who=principal.describe(),
                privileges=",".join(INDEX_PRIVILEGES_BY_ACTION[action]),
            ),
            403,
        )  # fmt: skip

    def authorize_invalidate(
        self, principal: Principal, action: str, ids: list[str], name: str | None, owner: bool
    ) -> None:
        """``manage_own_api_key`` grants invalidation of one's own keys only.

        ``ManageOwnApiKeyClusterPrivilege.checkIfUserIsOwnerOfApiKeys`` (x-pack core, security
        authz privilege): an API key may invalidate itself, by its id and nothing else ("API
        key cannot own any other API key"); a user may name its keys with ``owner: true``.
        Otherwise only ``manage_api_key``, ``manage_security`` or ``all`` grant it, and the 403
        lists just those (``ClusterPrivilegeResolver.findPrivilegesThatGrant`` checks the request).
        """
        broad = tuple(p for p in PRIVILEGES_BY_ACTION[action] if p != OWN_KEYS)
        if principal.privileges is None or principal.privileges & set(broad):
            return
        if OWN_KEYS in principal.privileges:
            if principal.api_key is not None:
                own = bool(ids) and name is None and all(i == principal.api_key.id for i in ids)
            else:
                own = owner
            if own:
                return
            raise _denied(principal, action, broad)
        self.authorize(principal, action)

    # -- API keys and tokens -----------------------------------------------------------------
    def create_api_key(
        self,
        owner: Principal,
        name: str,
        role_descriptors: dict[str, Any],
        expiration_ms: int | None,
    ) -> ApiKey:
        # TransportCreateApiKeyAction.doExecute: a key authenticated by an API key may only
        # create keys without privileges (``grantsAnyPrivileges``: no role descriptors, or one
        # that is not ``RoleDescriptor.isEmpty()``). Otherwise a derived key without role
        # descriptors would take its owner's (superuser) privileges.
        if owner.api_key is not None and (
            not role_descriptors or not all(_empty_descriptor(d) for d in role_descriptors.values())
        ):
            raise EsError("illegal_argument_exception", MESSAGES["derived_key"])
        privileges: frozenset[str] | None = None
        index_privileges: tuple[tuple[tuple[str, ...], frozenset[str]], ...] | None = None
        if role_descriptors:
            granted: set[str] = set()
            for descriptor in role_descriptors.values():
                cluster = descriptor.get("cluster", []) if isinstance(descriptor, dict) else None
                if not isinstance(cluster, list):
                    raise EsError("parse_exception", "failed to parse role descriptor: [cluster]")
                for privilege in cluster:
                    if not isinstance(privilege, str):
                        raise EsError(
                            "parse_exception", "failed to parse role descriptor: [cluster]"
                        )
                    if privilege not in CLUSTER_PRIVILEGES:
                        raise EsError(
                            "illegal_argument_exception",
                            MESSAGES["unknown_privilege"].format(
                                name=privilege, known=",".join(sorted(CLUSTER_PRIVILEGES))
                            ),
                        )
                    granted.add(privilege)
            privileges = frozenset(granted)
            if owner.privileges is not None:  # a key never exceeds its owner
                privileges &= owner.privileges
            index_privileges = _index_privileges(role_descriptors)
        key = ApiKey(
            id=secrets.token_urlsafe(15),
            name=name,
            secret=secrets.token_urlsafe(16),
            owner=owner.username,
            privileges=privileges,
            expiration=(int(time.time() * 1000) + expiration_ms) if expiration_ms else None,
            index_privileges=index_privileges,
        )
        self.api_keys[key.id] = key
        return key

    def invalidate(
        self, ids: list[str], name: str | None, owner: str | None = None
    ) -> tuple[list[str], list[str]]:
        """Invalidate the keys with these ids or this name (only ``owner``'s, when given)."""
        invalidated: list[str] = []
        previously: list[str] = []
        for key in self.api_keys.values():
            if owner is not None and key.owner != owner:
                continue
            if (
                key.id in ids
                or (name is not None and key.name == name)
                or (owner is not None and not ids and name is None)
            ):
                (previously if key.invalidated else invalidated).append(key.id)
                key.invalidated = True
        return invalidated, previously

    def create_token(self, principal: Principal) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = principal
        return token


def _same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of any text (``compare_digest`` refuses non-ASCII ``str``)."""
    return secrets.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _index_privileges(
    descriptors: dict[str, Any],
) -> tuple[tuple[tuple[str, ...], frozenset[str]], ...]:
    """The ``indices`` entries of role descriptors (names, privileges); malformed ones grant
    nothing (RoleDescriptor parsing is not modelled beyond this)."""
    out = []
    for descriptor in descriptors.values():
        for entry in (descriptor.get("indices") or []) if isinstance(descriptor, dict) else []:
            if not isinstance(entry, dict):
                continue
            names = entry.get("names", [])
            names = [names] if isinstance(names, str) else names
            out.append((tuple(str(n) for n in names),
                        frozenset(str(p) for p in entry.get("privileges", []))))  # fmt: skip
    return tuple(out)


def _empty_descriptor(descriptor: Any) -> bool:
    """``RoleDescriptor.isEmpty``: no privileges of any kind, no run-as, no metadata."""
    return isinstance(descriptor, dict) and not any(descriptor.values())


def _denied(principal: Principal, action: str, privileges: tuple[str, ...]) -> EsError:
    """The 403 naming the action, who asked and the privileges that would grant it."""
    return EsError(
        "security_exception",
        MESSAGES["unauthorized"].format(
            action=action, who=principal.describe(), privileges=",".join(privileges)
        ),
        403,
    )
