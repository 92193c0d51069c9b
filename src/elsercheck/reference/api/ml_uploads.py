"""Trained models users upload (a regression or classification tree with an inline
``definition``: rules/uploaded_models.py) and model aliases
(``PUT``/``DELETE /_ml/trained_models/{model_id}/model_aliases/{model_alias}``).

ES sources read: TransportPutTrainedModelAction.masterOperation (store id 37151164227),
TransportPutTrainedModelAliasAction (id 312994689), PutTrainedModelAliasAction (id 222387448,
``VALID_MODEL_ALIAS_CHAR_PATTERN`` and ``Request.validate``), TransportDeleteTrainedModelAliasAction
.deleteModelAlias (id 415969681), ML Messages (id 292233332).

Inference with an uploaded model (the ``inference`` ingest processor, ``_infer``) is refused as
not modelled; so is anything done *through* an alias other than reading models and their stats
(starting a deployment, inference), and an alias on a model that is not an uploaded tree.
"""

from __future__ import annotations

import re
import time

from ..rules import uploaded_models as um
from ..wire.errors import EsError, not_modelled, status_exception, validation_failed
from .call import Call, Reply

PUT_ALIAS = "cluster:admin/xpack/ml/inference/model_aliases/put"
PUT_PART = "cluster:admin/xpack/ml/trained_models/part/put"  # PutTrainedModelDefinitionPartAction
PUT_VOCABULARY = "cluster:admin/xpack/ml/trained_models/vocabulary/put"
DELETE_ALIAS = "cluster:admin/xpack/ml/inference/model_aliases/delete"
# PutTrainedModelAliasAction: like MlStrings.isValidId, but an alias cannot end with a number
VALID_ALIAS = re.compile(r"[a-z0-9](?:[a-z0-9_\-.]*[a-z])?")
ELASTIC_TAGS = ["elastic"]  # the tags the reference server renders for a package (ml_models.py)

# ES TransportPutTrainedModelAction (storeTrainedModel: Messages.MODEL_ID_TAKEN), for packages
# too (ml_models.py)
MODEL_EXISTS = "Trained machine learning model [{id}] already exists"
MESSAGES = {
    # PutTrainedModelAliasAction.Request.validate (Messages.INVALID_MODEL_ALIAS)
    "alias_is_id": "model_alias [{alias}] cannot equal model_id [{id}]",
    "invalid_alias": (
        "Invalid model_alias; '{alias}' can contain lowercase alphanumeric (a-z and 0-9), "
        "hyphens or underscores; must start with alphanumeric and cannot end with numbers"
    ),
    # TransportPutTrainedModelAliasAction.masterOperation
    "alias_taken": (
        "cannot assign model_alias [{alias}] to model_id [{id}] as model_alias already refers to "
        "[{old}]. Set parameter [reassign] to [true] if model_alias should be reassigned."
    ),
    "alias_is_model": "model_alias cannot be the same as an existing trained model_id",
    "no_model": "No known trained model with model_id [{id}]",  # missingTrainedModel
    "config_type_differs": (
        "cannot reassign model_alias [{alias}] to model [{id}] with inference config type "
        "[{new}] from model [{old}] with type [{old_type}]"
    ),
    "inputs_differ": (  # Messages.TRAINED_MODEL_INPUTS_DIFFER_SIGNIFICANTLY, a Warning header
        "The input fields for new model [{id}] and for old model [{old}] differ significantly, "
        "model results may change drastically."
    ),
    # TransportDeleteTrainedModelAliasAction.deleteModelAlias
    "alias_missing": "model_alias [{alias}] could not be found",
    "alias_elsewhere": "model_alias [{alias}] does not refer to provided model_id [{id}]",
    "alias_referenced": (
        "Cannot delete model_alias [{alias}] as it is still referenced by ingest processors"
    ),
}


def refuse_alias(call: Call, model_id: str, what: str) -> None:
    """Refuse (501) an id that is a model alias where alias resolution is not modelled."""
    if model_id in call.state.models.aliases:
        raise not_modelled(f"{what} through the model alias [{model_id}]")


def refuse_local_inference(call: Call, model_id: str, what: str) -> None:
    """Inference with an uploaded tree model (ES runs it on the ingest node, LocalModel) is not
    modelled: refused (501), never answered with a stand-in."""
    refuse_alias(call, model_id, what)
    if model_id in call.state.models.uploaded:
        raise not_modelled(f"inference with the uploaded tree model [{model_id}] ({what})")


async def definition_part(call: Call) -> Reply:
    """``PUT _ml/trained_models/<id>/definition/<part>`` (RestPutTrainedModelDefinitionPartAction):
    uploading a definition in parts (PyTorch models) is not modelled."""
    raise not_modelled("the trained model definition part API")


async def vocabulary(call: Call) -> Reply:
    """``PUT _ml/trained_models/<id>/vocabulary`` (RestPutTrainedModelVocabularyAction)."""
    raise not_modelled("the trained model vocabulary API")


async def put_uploaded(call: Call, model_id: str) -> Reply:
    """``PUT _ml/trained_models/<id>`` with a definition: request validation, authorization,
    then the master's checks in TransportPutTrainedModelAction's order."""
    body = call.json(wrap_as_map=True)
    upload = um.parse_upload(model_id, body, int(time.time() * 1000))
    call.authorize()
    models = call.state.models
    um.check_definition(upload)
    if model_id in models.aliases:
        raise status_exception(um.MESSAGES["id_is_alias"].format(id=model_id))
    if call.state.deployments.get(model_id) is not None:
        raise status_exception(um.MESSAGES["id_is_deployment"].format(id=model_id))
    if model_id in models.ids() and model_id not in models.uploaded \
            and model_id not in call.state.deployments.known_models():  # fmt: skip
        raise not_modelled(f"uploading a model over the built-in model [{model_id}]")
    indexed = {m: _tags(call, m) for m in models.ids() if m in models.uploaded
               or m in call.state.deployments.known_models()}  # fmt: skip
    if any(model_id in tags for tags in indexed.values()):  # checkModelIdAgainstTags
        raise status_exception(um.MESSAGES["id_is_tag"].format(id=model_id))
    tags = upload.model.tags
    if any(t in indexed for t in tags):  # checkTagsAgainstModelIds: the tags as a Java list
        raise status_exception(um.MESSAGES["tag_is_model"].format(tags="[" + ", ".join(tags) + "]"))
    if model_id in indexed:
        raise EsError("resource_already_exists_exception", MODEL_EXISTS.format(id=model_id))
    models.uploaded[model_id] = upload.model
    return Reply(upload.model.render([]))


def _tags(call: Call, model_id: str) -> list[str]:
    uploaded = call.state.models.uploaded.get(model_id)
    return list(uploaded.tags) if uploaded is not None else ELASTIC_TAGS


async def put_alias(call: Call) -> Reply:
    """``TransportPutTrainedModelAliasAction.masterOperation``."""
    model_id = call.path_params["model_id"]
    alias = call.path_params["model_alias"]
    reassign = call.flag("reassign")
    errors = []
    if alias == model_id:
        errors.append(MESSAGES["alias_is_id"].format(alias=alias, id=model_id))
    if not VALID_ALIAS.fullmatch(alias):
        errors.append(MESSAGES["invalid_alias"].format(alias=alias))
    if errors:
        raise validation_failed(errors, "action_request_validation_exception")
    call.authorize()
    models = call.state.models
    old_id = models.aliases.get(alias)
    if old_id is not None and not reassign:
        raise status_exception(MESSAGES["alias_taken"].format(alias=alias, id=model_id, old=old_id))
    # getTrainedModels over {alias, model_id, old}: an alias that is a model id fails first
    if models.exists(alias):
        raise status_exception(MESSAGES["alias_is_model"])
    if not models.exists(model_id):
        raise EsError("resource_not_found_exception", MESSAGES["no_model"].format(id=model_id))
    new = models.uploaded.get(model_id)
    if new is None:
        raise not_modelled(f"a model alias on [{model_id}] (aliases are modelled for uploaded "
                           "tree models only: alias resolution in deployments and inference is "
                           "not)")  # fmt: skip
    old = None if old_id is None else models.uploaded.get(old_id)
    if old is not None:
        if new.config_name != old.config_name:
            raise status_exception(MESSAGES["config_type_differs"].format(
                alias=alias, id=model_id, new=new.config_name, old=old.model_id,
                old_type=old.config_name))  # fmt: skip
        # both tree_ensemble: the model types match; the PyTorch assignment checks do not apply
        old_fields, new_fields = set(old.field_names), set(new.field_names)
        half = len(old_fields) // 2  # Java integer division
        if len(old_fields - new_fields) > half or len(new_fields & old_fields) < half:
            call.warnings.append(MESSAGES["inputs_differ"].format(id=model_id, old=old_id))
    elif old_id is not None and old_id in models.ids():
        raise not_modelled(f"reassigning a model alias from [{old_id}]")
    models.aliases[alias] = model_id
    return Reply({"acknowledged": True})


async def delete_alias(call: Call) -> Reply:
    """``TransportDeleteTrainedModelAliasAction.deleteModelAlias``."""
    model_id = call.path_params["model_id"]
    alias = call.path_params["model_alias"]
    call.authorize()
    models = call.state.models
    referenced = models.aliases.get(alias)
    if referenced is None:
        raise status_exception(MESSAGES["alias_missing"].format(alias=alias), 404)
    if referenced != model_id:
        raise status_exception(MESSAGES["alias_elsewhere"].format(alias=alias, id=model_id), 409)
    if alias in call.state.pipelines.model_ids():
        raise status_exception(MESSAGES["alias_referenced"].format(alias=alias), 409)
    del models.aliases[alias]
    return Reply({"acknowledged": True})
