"""The trained models the cluster knows: the built-in language identifier, the ELSER packages
downloaded by ``PUT _ml/trained_models`` or by the first deployment of an inference endpoint
(ES TrainedModelProvider; the download itself: ``Deployments.download``), the tree models
users upload with a definition (rules/uploaded_models.py), and the model aliases
(ES ModelAliasMetadata, cluster state)."""

from __future__ import annotations

import fnmatch

from ..rules.trained_models import BUILT_IN_MODELS, ELSER_INPUT
from ..rules.uploaded_models import UploadedModel
from .deployments import Deployments


def id_tokens(expression: str) -> list[str]:
    """The tokens of a comma-separated id expression, blanks dropped."""
    return [t.strip() for t in expression.split(",") if t.strip()]


def is_all(tokens: list[str]) -> bool:
    """``Strings.isAllOrWildcard``: no token, or a single ``_all`` or ``*``."""
    return not tokens or (len(tokens) == 1 and tokens[0] in ("_all", "*"))


def _simple_match(pattern: str, value: str) -> bool:
    """``Regex.simpleMatch``: ``*`` only (fnmatch's ``?`` and ``[`` are literal here)."""
    escaped = pattern.replace("[", "[[]").replace("?", "[?]")
    return fnmatch.fnmatchcase(value, escaped)


def matches_any(value: str, tokens: set[str]) -> bool:
    """``ExpandedIdsMatcher.SimpleIdsMatcher.idMatches``: a token equal to it or a wildcard
    matching it."""
    return any(_simple_match(t, value) if "*" in t else t == value for t in tokens)


class TrainedModels:
    """Model definitions over the ML node's downloads: one home for "is this model defined"."""

    def __init__(self, deployments: Deployments) -> None:
        self.deployments = deployments
        self.inputs: dict[str, list[str]] = {}  # model id -> input.field_names given at PUT
        self.uploaded: dict[str, UploadedModel] = {}  # uploaded tree models
        self.aliases: dict[str, str] = {}  # model alias -> model id (ModelAliasMetadata)

    def define(self, model_id: str, field_names: list[str]) -> None:
        self.inputs[model_id] = field_names
        self.deployments.download(model_id)

    def exists(self, model_id: str) -> bool:
        return (model_id in BUILT_IN_MODELS or model_id in self.uploaded
                or model_id in self.deployments.known_models())  # fmt: skip

    def ids(self) -> list[str]:
        return sorted({*BUILT_IN_MODELS, *self.uploaded, *self.deployments.known_models()})

    def fully_defined(self, model_id: str) -> bool:
        return (model_id in BUILT_IN_MODELS or model_id in self.uploaded
                or self.deployments.downloaded(model_id))  # fmt: skip

    def input_fields(self, model_id: str) -> list[str]:
        if model_id in self.uploaded:
            return list(self.uploaded[model_id].field_names)
        return self.inputs.get(model_id, [ELSER_INPUT])

    def aliases_of(self, model_id: str) -> list[str]:
        """The aliases that refer to the model (TransportDeleteTrainedModelAction
        .getModelAliases)."""
        return sorted(a for a, m in self.aliases.items() if m == model_id)

    def delete(self, model_id: str) -> None:
        """The model and its aliases (TransportDeleteTrainedModelAction.deleteAliasesAndModel)."""
        self.inputs.pop(model_id, None)
        self.uploaded.pop(model_id, None)
        for alias in self.aliases_of(model_id):
            del self.aliases[alias]
        self.deployments.forget(model_id)

    def expand(
        self, expression: str, allow_no_match: bool, extra_ids: frozenset[str] = frozenset()
    ) -> tuple[list[str], dict[str, list[str]]]:
        """``TrainedModelProvider.expandIds``: the model ids an id expression matches, sorted,
        with the aliases of each; raises the unmatched tokens (``ExpandedIdsMatcher``).

        Tokens may name aliases (exact, or a wildcard over alias names): their models are
        matched. A token is satisfied by a matched model id or by an alias of a matched model
        ("over matching" is allowed, as ES's comment says). ``extra_ids`` are ids matched
        elsewhere (deployment ids, the stats API) that need no model."""
        tokens = id_tokens(expression)
        every = is_all(tokens)
        wanted = set(tokens)
        if not every:
            for token in tokens:
                if "*" in token:
                    wanted |= {m for a, m in self.aliases.items() if _simple_match(token, a)}
                elif token in self.aliases:
                    wanted.add(self.aliases[token])
        found = [m for m in self.ids() if every or matches_any(m, wanted)]
        with_aliases = {m: self.aliases_of(m) for m in found}
        if not every:
            matched = set(found) | {a for m in found for a in with_aliases[m]} | extra_ids
            unmatched = [t for t in tokens if not any(matches_any(x, {t}) for x in matched)]
            # ExpandedIdsMatcher: a wildcard may match nothing when allow_no_match is true
            required = [t for t in unmatched if "*" not in t or not allow_no_match]
            if required:
                raise LookupError(",".join(required))
        elif not found and not allow_no_match:
            raise LookupError(expression or "_all")
        return found, with_aliases
