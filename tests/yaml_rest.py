"""A small runner of Elastic's YAML REST tests (the format of ES's rest-api-spec ``test/``
files, interpreted as ES's ``ESClientYamlSuiteTestCase`` does) against the in-process reference
server.

Supported: ``setup``/``teardown``; steps ``do`` (with ``catch``), ``match``, ``length``,
``is_true``, ``is_false``, ``gt``, ``gte``, ``lt``, ``lte``, ``set``, ``not_exists``;
``skip``/``requires`` with ``features`` (:data:`SUPPORTED_FEATURES`: ``headers``,
``warnings``, ``allowed_warnings``) and ``cluster_features`` (the ones :data:`CLUSTER_FEATURES`
grants per version). A test whose ``skip``/``requires`` cannot be met is reported skipped with
the reason. As ES's ``DoSection`` does, a response's ``Warning`` headers must be the ``warnings``
the step expects, or among its ``allowed_warnings``. A step the reference server refuses as not
modelled (501, "The reference server does not model …") without a ``catch`` skips the test with
that reason: the file cannot run here, and the report says why. APIs are mapped to HTTP by
:data:`APIS` (only the ones the vendored tests call; another API name fails the test naming it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml

# api name -> [(method, path template)], most specific first (the REST spec's "paths")
APIS: dict[str, list[tuple[str, str]]] = {
    "inference.get": [("GET", "/_inference/{task_type}/{inference_id}"),
                      ("GET", "/_inference/{inference_id}"), ("GET", "/_inference")],
    "inference.put": [("PUT", "/_inference/{task_type}/{inference_id}"),
                      ("PUT", "/_inference/{inference_id}")],
    "inference.delete": [("DELETE", "/_inference/{task_type}/{inference_id}"),
                         ("DELETE", "/_inference/{inference_id}")],
    "xpack.usage": [("GET", "/_xpack/usage")],
    "indices.create": [("PUT", "/{index}")],
    "indices.delete": [("DELETE", "/{index}")],
    "indices.get_mapping": [("GET", "/{index}/_mapping")],
    "search": [("POST", "/{index}/_search")],
    "ml.get_trained_models_stats": [("GET", "/_ml/trained_models/{model_id}/_stats"),
                                    ("GET", "/_ml/trained_models/_stats")],
    "ml.get_trained_models": [("GET", "/_ml/trained_models/{model_id}"),
                              ("GET", "/_ml/trained_models")],
    "ml.put_trained_model": [("PUT", "/_ml/trained_models/{model_id}")],
    "ml.put_trained_model_alias": [
        ("PUT", "/_ml/trained_models/{model_id}/model_aliases/{model_alias}")],
}  # fmt: skip
# catch: name -> status (ESClientYamlSuiteTestCase / DoSection.CATCHES)
CATCHES = {"bad_request": 400, "unauthorized": 401, "forbidden": 403, "missing": 404,
           "request_timeout": 408, "conflict": 409, "unavailable": 503}  # fmt: skip
# Cluster features the reference server has, per version line (ModelStats.SEMANTIC_TEXT_USAGE:
# granted where api/usage.py models the inference usage form that carries it)
CLUSTER_FEATURES: dict[str, frozenset[str]] = {"9.5": frozenset({"inference.semantic_text_usage"})}
SUPPORTED_FEATURES = frozenset({"headers", "warnings", "allowed_warnings"})
NOT_MODELLED = "The reference server does not model"
# the quoted text of a Warning header value: 299 Elasticsearch-<version>-<hash> "<text>"
WARNING_TEXT = re.compile(r'299 [^ ]+ "((?:[^"\\]|\\.)*)"')


class Skipped(Exception):
    """The test's ``skip``/``requires`` cannot be met here: the reason."""


@dataclass
class Outcome:
    name: str
    skipped: str | None = None  # the reason
    steps: int = 0  # assertions and calls run


@dataclass
class Runner:
    client: httpx.Client
    version: str
    stash: dict[str, Any] = field(default_factory=dict)
    last: Any = None

    # -- sections ---------------------------------------------------------------------------
    def run_file(self, path: Path, fresh: Any) -> list[Outcome]:
        """Each test of the file with its setup and teardown; ``fresh()`` gives a new client
        (a wiped cluster, as ES's runner wipes between tests)."""
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        setup = teardown = None
        tests: list[tuple[str, list[Any]]] = []
        for doc in docs:
            for name, steps in doc.items():
                if name == "setup":
                    setup = steps
                elif name == "teardown":
                    teardown = steps
                else:
                    tests.append((name, steps))
        outcomes = []
        for name, steps in tests:
            self.client, self.stash, self.last = fresh(), {}, None
            outcome = Outcome(name)
            try:
                for section in (setup or [], steps):
                    outcome.steps += self.run_steps(section)
            except Skipped as reason:
                outcome.skipped = str(reason)
            finally:
                if teardown and outcome.skipped is None:
                    self.run_steps(teardown)
            outcomes.append(outcome)
        return outcomes

    def run_steps(self, steps: list[dict[str, Any]]) -> int:
        count = 0
        for step in steps:
            ((kind, arg),) = step.items()
            if kind in ("skip", "requires"):
                self.check_prerequisites(kind, arg)
                continue
            getattr(self, f"step_{kind}")(arg)
            count += 1
        return count

    def check_prerequisites(self, kind: str, arg: dict[str, Any]) -> None:
        features = arg.get("features", [])
        features = [features] if isinstance(features, str) else features
        missing = [f for f in features if f not in SUPPORTED_FEATURES]
        if missing:
            raise Skipped(f"runner feature(s) {missing} not supported")
        wanted = arg.get("cluster_features", [])
        wanted = [wanted] if isinstance(wanted, str) else wanted
        have = CLUSTER_FEATURES.get(self.version, frozenset())
        absent = [f for f in wanted if f not in have]
        if absent and kind == "requires":
            raise Skipped(f"cluster feature(s) {absent} absent at {self.version}: "
                          f"{arg.get('reason', '')}")  # fmt: skip
        if wanted and not absent and kind == "skip":
            raise Skipped(f"skipped where {wanted}: {arg.get('reason', '')}")
        if "version" in arg or "known_issues" in arg or "awaits_fix" in arg:
            raise Skipped(f"{kind} condition {sorted(arg)} not supported")

    # -- do ---------------------------------------------------------------------------------
    def step_do(self, arg: dict[str, Any]) -> None:
        arg = dict(arg)
        catch = arg.pop("catch", None)
        if "node_selector" in arg:
            raise AssertionError("do: [node_selector] not supported by this runner")
        extra_headers = {str(k): str(v) for k, v in (arg.pop("headers", None) or {}).items()}
        expected_warnings = list(arg.pop("warnings", None) or [])
        allowed_warnings = set(arg.pop("allowed_warnings", None) or [])
        ((api, params),) = arg.items()
        params = self.substitute(dict(params or {}))
        body = params.pop("body", None)
        method, path = self.route(api, params)
        query = {k: _param(v) for k, v in params.items()}
        content = (body if isinstance(body, str) else json.dumps(body)).encode() if body is not None \
            else None  # fmt: skip
        headers = {"content-type": "application/json"} if content is not None else {}
        headers.update(extra_headers)
        response = self.client.request(method, path, params=query, content=content,
                                       headers=headers)  # fmt: skip
        got = [m.group(1).replace('\\"', '"').replace("\\\\", "\\")
               for value in response.headers.get_list("warning")
               for m in WARNING_TEXT.finditer(value)]  # fmt: skip
        unexpected = [w for w in got if w not in expected_warnings and w not in allowed_warnings]
        assert not unexpected, f"{api}: unexpected warnings {unexpected}"
        missing = [w for w in expected_warnings if w not in got]
        assert not missing, f"{api}: expected warnings {missing} not returned"
        try:
            self.last = response.json()
        except ValueError:
            self.last = response.text
        status = response.status_code
        if catch is None and status == 501 and NOT_MODELLED in response.text:
            raise Skipped(f"{api}: {response.json()['error']['reason']}")
        if catch is None:
            assert status < 400, f"{api}: {status} {response.text}"
        elif catch in CATCHES:
            assert status == CATCHES[catch], (
                f"{api}: expected {catch}, got {status} {response.text}"
            )
        elif catch == "request":
            assert status >= 400 and status not in CATCHES.values(), response.text
        elif catch.startswith("/"):
            assert status >= 400 and re.search(catch.strip("/").strip(), response.text), \
                response.text  # fmt: skip
        else:
            raise AssertionError(f"catch [{catch}] not supported")

    def route(self, api: str, params: dict[str, Any]) -> tuple[str, str]:
        if api not in APIS:
            raise AssertionError(f"API [{api}] not mapped by this runner")
        for method, template in APIS[api]:
            names = re.findall(r"{(\w+)}", template)
            if all(n in params for n in names):
                path = template
                for n in names:
                    path = path.replace("{" + n + "}", quote(str(params.pop(n)), safe=",*"))
                return method, path
        raise AssertionError(f"no path of [{api}] fits {sorted(params)}")

    # -- assertions -------------------------------------------------------------------------
    def value(self, path: str) -> Any:
        if path in ("$body", ""):
            return self.last
        current = self.last
        for part in _split(path):
            part = self.substitute(part)
            if isinstance(current, list):
                current = current[int(part)]
            elif isinstance(current, dict) and part in current:
                current = current[part]
            else:
                raise KeyError(path)
        return current

    def get(self, path: str) -> tuple[bool, Any]:
        try:
            return True, self.value(path)
        except (KeyError, IndexError, ValueError):
            return False, None

    def step_match(self, arg: dict[str, Any]) -> None:
        ((path, expected),) = arg.items()
        found, actual = self.get(path)
        expected = self.substitute(expected)
        assert found, f"match: [{path}] missing in {self.last}"
        if isinstance(expected, str) and len(expected) > 1 and expected.strip().startswith("/") \
                and expected.strip().endswith("/"):  # fmt: skip
            pattern = expected.strip()[1:-1]
            assert re.search(pattern, str(actual), re.VERBOSE), f"{path}: {actual!r} !~ {pattern}"
            return
        assert _equal(actual, expected), f"match: [{path}] is {actual!r}, expected {expected!r}"

    def step_length(self, arg: dict[str, Any]) -> None:
        ((path, expected),) = arg.items()
        assert len(self.value(path)) == expected, f"length of [{path}]"

    def step_is_true(self, path: str) -> None:
        found, actual = self.get(path)
        assert found and actual not in (None, False, "", "false", 0), f"is_true: [{path}]"

    def step_is_false(self, path: str) -> None:
        found, actual = self.get(path)
        assert not found or actual in (None, False, "", "false", 0), f"is_false: [{path}]"

    def step_not_exists(self, path: str) -> None:
        assert not self.get(path)[0], f"not_exists: [{path}] = {self.get(path)[1]!r}"

    def _compare(self, arg: dict[str, Any], op: Any, name: str) -> None:
        ((path, bound),) = arg.items()
        actual = self.value(path)
        assert op(actual, self.substitute(bound)), f"{name}: [{path}] = {actual!r} vs {bound!r}"

    def step_gt(self, arg: dict[str, Any]) -> None:
        self._compare(arg, lambda a, b: a > b, "gt")

    def step_gte(self, arg: dict[str, Any]) -> None:
        self._compare(arg, lambda a, b: a >= b, "gte")

    def step_lt(self, arg: dict[str, Any]) -> None:
        self._compare(arg, lambda a, b: a < b, "lt")

    def step_lte(self, arg: dict[str, Any]) -> None:
        self._compare(arg, lambda a, b: a <= b, "lte")

    def step_set(self, arg: dict[str, Any]) -> None:
        for path, name in arg.items():
            self.stash[name] = self.value(path)

    def substitute(self, value: Any) -> Any:
        """``$name`` and ``${name}`` from the stash (Stash.replaceStashedValues)."""
        if isinstance(value, str):
            if value.startswith("$") and value[1:] in self.stash:
                return self.stash[value[1:]]
            return re.sub(r"\$\{(\w+)\}", lambda m: str(self.stash.get(m.group(1), m.group(0))),
                          value)  # fmt: skip
        if isinstance(value, dict):
            return {self.substitute(k): self.substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        return value


def _split(path: str) -> list[str]:
    """A dotted path; ``\\.`` keeps a dot inside a key (ObjectPath)."""
    return [p.replace("\0", ".") for p in path.replace("\\.", "\0").split(".")]


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _equal(actual: Any, expected: Any) -> bool:
    """Equality as the YAML runner compares parsed JSON (numbers by value)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(
            _equal(actual[k], expected[k]) for k in expected
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(map(_equal, actual, expected))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(actual) == float(expected)
    return bool(actual == expected)
