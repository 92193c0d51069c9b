"""The trained models a cluster knows: ELSER variants and the built-in language identifier."""

from __future__ import annotations

# model id -> (model_size_bytes, required_native_memory_bytes), as Elasticsearch reports them
MODEL_SIZES = {
    ".elser_model_2": (438123914, 2101346304),
    ".elser_model_2_linux-x86_64": (438123914, 2101346304),
    "lang_ident_model_1": (1053992, 0),
}
# Present in every cluster without a download.
BUILT_IN_MODELS = ("lang_ident_model_1",)

# The ELSER packages ``PUT _ml/trained_models/<id>`` downloads (ES ModelPackageConfig,
# TransportPutTrainedModelAction for ids that start with a dot): description texts as Kibana's
# model list shows them (kibana x-pack/.../ml/common/constants/trained_models.ts), the input
# field every ELSER package declares (``text_field``; ES ElasticsearchInternalService.putModel
# defines the same input when an inference endpoint downloads it).
ELSER_PACKAGES = {
    ".elser_model_1": "Elastic Learned Sparse EncodeR v1",
    ".elser_model_2": "Elastic Learned Sparse EncodeR v2",
    ".elser_model_2_linux-x86_64": "Elastic Learned Sparse EncodeR v2, optimized for linux-x86_64",
}
# Packages with a platform: ES TrainedModelConfig.platform_architecture
PLATFORM_PACKAGES = {".elser_model_2_linux-x86_64": "linux-x86_64"}
ELSER_INPUT = "text_field"
# Packaged models Elastic ships that the reference server refuses: their dense or rerank
# results would be stand-ins nobody could check (README: "What is not modelled")
UNMODELLED_PACKAGES = (
    ".multilingual-e5-small", ".multilingual-e5-small_linux-x86_64", ".rerank-v1",
)  # fmt: skip
# A packaged model's configuration as ES 8.10 answered ``PUT _ml/trained_models/.elser_model_2``
# (output recorded in elastic/elasticsearch-labs notebooks/search/03-ELSER.ipynb @42d1e1a3):
# created_by api_user, version 11.0.0, model_size_bytes and estimated_operations 0, metadata {},
# the definition in the native inference index. model_package only where its values were seen
# (the x86 variant's sha256 was not: its model_package is omitted, README).
PACKAGE_CONFIG_VERSION = "11.0.0"
NATIVE_INDEX = ".ml-inference-native-000002"
PACKAGE_METADATA = {
    ".elser_model_2": {
        "packaged_model_id": "elser_model_2",
        "model_repository": "https://ml-models.elastic.co",
        "minimum_version": "11.0.0",
        "size": 438123914,
        "sha256": "2e0450a1c598221a919917cbb05d8672aed6c613c028008fedcd696462c81af0",
        "metadata": {},
        "tags": [],
        "vocabulary_file": "elser_model_2.vocab.json",
    }
}
# ELSER's inference_config as ES reports it (ES TextExpansionConfig.toXContent with BertTokenization
# defaults: do_lower_case, with_special_tokens, max_sequence_length 512, truncate first, span -1);
# the vocabulary lives in the ML inference index (ES InferenceIndexConstants.nativeDefinitionStore)
ELSER_INFERENCE_CONFIG = {
    "text_expansion": {
        "vocabulary": {"index": ".ml-inference-native-000002"},
        "tokenization": {
            "bert": {
                "do_lower_case": True,
                "with_special_tokens": True,
                "max_sequence_length": 512,
                "truncate": "first",
                "span": -1,
            }
        },
    }
}
# lang_ident_model_1, built into every cluster (ES LangIdentNeuralNetwork / the resource file
# lang_ident_model_1.json): a classification model on the field ``text``
LANG_IDENT_CONFIG = {
    "model_id": "lang_ident_model_1",
    "model_type": "lang_ident",
    "created_by": "_xpack",
    "version": "7.6.0",
    "description": "Model used for identifying language from arbitrary input text.",
    "create_time": 1575548914594,
    "model_size_bytes": 1053992,
    "estimated_operations": 39629,
    "license_level": "basic",
    "tags": ["lang_ident", "prepackaged"],
    "input": {"field_names": ["text"]},
    "inference_config": {
        "classification": {
            "num_top_classes": 0,
            "top_classes_results_field": "top_classes",
            "results_field": "predicted_value",
            "num_top_feature_importance_values": 0,
            "prediction_field_type": "string",
        }
    },
}
