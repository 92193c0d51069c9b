"""semantic_text inference at ingest (ES ``ShardBulkInferenceActionFilter`` + the ELSER service's
``chunkedInfer``).

Items are taken in order until their semantic_text values add up to ``FILTER_BATCH_BYTES`` of
input (``executeNext``: ``indices.inference.batch_size``, 1 MB, #124313); the batches run one
after the other. Within a batch the values are grouped by inference id
(``addFieldInferenceRequests``); blank values need no inference. Per endpoint one
``chunkedInfer`` call takes all its values; the service chunks each with the field's
``chunking_settings`` (mapping) or else the endpoint's, and sends the chunks to the deployment
``MODEL_BATCH_SIZE`` at a time (``ElasticsearchInternalService.EMBEDDING_MAX_BATCH_SIZE``,
``EmbeddingRequestChunker``), all dispatched at once. A failed model batch fails each value with
chunks in it (``ChunkedInferenceError``); the item then fails with the filter's
``InferenceException`` ``Exception when running inference id [..] on field [..]`` (type
``inference_exception``, status that of its cause: #123890, back-ported to 8.18/9.0), the first
failure only (#141079). A missing endpoint fails the item with ``resource_not_found_exception``
``Inference id [..] not found for field [..]`` (the model-loading listener's ``onFailure``).
Ingest passes ``TimeValue.MAX_VALUE`` as the inference timeout: a request waits in the
deployment queue without limit (a bulk inference timeout setting, #141774, defaults to none
and is not modelled).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..mlnode.sparse_encoder import SparseResult
from ..rules import chunkers
from ..rules.endpoint_config import EndpointConfig
from ..rules.semantic_text import Mapping
from ..wire.errors import EsError
from .store import Chunk

FILTER_BATCH_BYTES = 1024 * 1024  # ShardBulkInferenceActionFilter.DEFAULT_BATCH_SIZE (1 MB)
MODEL_BATCH_SIZE = 10  # ElasticsearchInternalService.EMBEDDING_MAX_BATCH_SIZE

Infer = Callable[[EndpointConfig, list[str]], Awaitable[list[SparseResult]]]
Find = Callable[[str], EndpointConfig | None]


@dataclass
class _Value:
    item: int
    field: str
    text: str
    spans: list[tuple[int, int]]


def failure_running(inference_id: str, field: str, cause: EsError) -> EsError:
    """The filter's wrapper: status follows the cause (``ElasticsearchException.status``)."""
    return EsError(
        "inference_exception",
        f"Exception when running inference id [{inference_id}] on field [{field}]",
        cause.status,
        caused_by=cause,
    )


def _values(source: dict[str, Any], name: str) -> list[str] | None:
    """``SemanticTextUtils.nodeStringValues``: a string or a list of strings."""
    value = source.get(name)
    if value is None:
        return None
    if isinstance(value, list):
        return [v if isinstance(v, str) else str(v) for v in value]
    return [value if isinstance(value, str) else str(value)]


async def infer_items(
    sources: list[dict[str, Any]], mapping: Mapping, find: Find, infer: Infer,
    supported: Callable[[EndpointConfig], EsError | None],
) -> list[EsError | dict[str, list[Chunk]]]:  # fmt: skip
    """Per item: its fields' chunks with embeddings, or the item's (first) failure."""
    results: list[EsError | dict[str, list[Chunk]]] = [{} for _ in sources]

    def fail(item: int, error: EsError) -> None:
        if not isinstance(results[item], EsError):  # the first failure only (#141079)
            results[item] = error

    item = 0
    while item < len(sources):  # executeNext: batches of about FILTER_BATCH_BYTES of input
        by_endpoint: dict[str, list[tuple[int, str, str]]] = {}
        size = 0
        while item < len(sources) and size < FILTER_BATCH_BYTES:
            for name, spec in mapping.semantic.items():
                for text in _values(sources[item], name) or []:
                    if text.strip():  # blank values need no inference
                        by_endpoint.setdefault(spec.inference_id, []).append((item, name, text))
                        size += len(text)
            item += 1
        await asyncio.gather(*(  # every endpoint's chunkedInfer at once (RefCountingRunnable)
            _endpoint_batch(inference_id, requests, mapping, find, infer, supported, results,
                            fail)
            for inference_id, requests in by_endpoint.items()
        ))  # fmt: skip
    return results


async def _endpoint_batch(
    inference_id: str, requests: list[tuple[int, str, str]], mapping: Mapping, find: Find,
    infer: Infer, supported: Callable[[EndpointConfig], EsError | None],
    results: list[EsError | dict[str, list[Chunk]]], fail: Callable[[int, EsError], None],
) -> None:  # fmt: skip
    config = find(inference_id)
    if config is None:
        for item, name, _ in requests:
            fail(
                item,
                EsError(
                    "resource_not_found_exception",
                    f"Inference id [{inference_id}] not found for field [{name}]",
                ),
            )
        return  # fmt: skip
    refused = supported(config)
    values = []
    for item, name, text in requests:
        settings = mapping.semantic[name].chunking_settings or config.chunking_settings
        values.append(_Value(item, name, text, chunkers.chunk(text, settings)))
    if refused is not None:
        for value in values:
            fail(value.item, failure_running(inference_id, value.field, refused))
        return
    await _run(config, values, infer, results, fail)


async def _run(
    config: EndpointConfig, values: list[_Value], infer: Infer,
    results: list[EsError | dict[str, list[Chunk]]], fail: Callable[[int, EsError], None],
) -> None:  # fmt: skip
    """One ``chunkedInfer`` call: all chunks, ``MODEL_BATCH_SIZE`` per deployment request."""
    flat = [(v, s, e) for v in values for s, e in v.spans]
    batches = [flat[i : i + MODEL_BATCH_SIZE] for i in range(0, len(flat), MODEL_BATCH_SIZE)]
    answers = await asyncio.gather(
        *(infer(config, [v.text[s:e] for v, s, e in b]) for b in batches), return_exceptions=True
    )
    failed: dict[int, EsError] = {}
    embedded: dict[int, list[Chunk]] = {}
    for batch, answer in zip(batches, answers, strict=True):
        for position, (value, start, end) in enumerate(batch):
            key = id(value)
            if isinstance(answer, EsError):
                failed.setdefault(key, answer)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                embedded.setdefault(key, []).append(Chunk(start, end, answer[position].embedding))
    for value in values:
        error = failed.get(id(value))
        if error is not None:
            fail(value.item, failure_running(config.inference_id, value.field, error))
            continue
        slot = results[value.item]
        if isinstance(slot, dict):
            # several values of one field: offsets into the values joined by one separator
            # (the filter's offsetAdjustment); here each chunk keeps its own value's text
            slot.setdefault(value.field, []).extend(embedded.get(id(value), []))
