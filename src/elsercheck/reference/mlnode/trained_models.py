"""The trained models the cluster knows: the built-in language identifier, and the ELSER
packages downloaded by ``PUT _ml/trained_models`` or by the first deployment of an inference
endpoint (ES TrainedModelProvider; the download itself: ``Deployments.download``)."""

from __future__ import annotations

from ..rules.trained_models import BUILT_IN_MODELS, ELSER_INPUT
from .deployments import Deployments


class TrainedModels:
    """Model definitions over the ML node's downloads: one home for "is this model defined"."""

    def __init__(self, deployments: Deployments) -> None:
        self.deployments = deployments
        self.inputs: dict[str, list[str]] = {}  # model id -> input.field_names given at PUT

    def define(self, model_id: str, field_names: list[str]) -> None:
        self.inputs[model_id] = field_names
        self.deployments.download(model_id)

    def exists(self, model_id: str) -> bool:
        return model_id in BUILT_IN_MODELS or model_id in self.deployments.known_models()

    def ids(self) -> list[str]:
        return sorted({*BUILT_IN_MODELS, *self.deployments.known_models()})

    def fully_defined(self, model_id: str) -> bool:
        return model_id in BUILT_IN_MODELS or self.deployments.downloaded(model_id)

    def input_fields(self, model_id: str) -> list[str]:
        return self.inputs.get(model_id, [ELSER_INPUT])

    def delete(self, model_id: str) -> None:
        self.inputs.pop(model_id, None)
        self.deployments.forget(model_id)
