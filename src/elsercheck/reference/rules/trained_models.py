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
