"""The Elasticsearch versions the reference server can be, and what differs between them.

Three tables, data over code:

* :data:`RELEASES`: one modelled release per supported minor (what ``GET /`` reports);
* :data:`CHANGES`: behaviour that changed after 9.1, each row naming the first minor that has it
  and the Elasticsearch PR or source it comes from. Code asks ``version.has("<name>")`` at the one
  place the rule is applied;
* :data:`BUGS`: upstream bugs, each a defect of ``breakage/defects.py`` switched on for the
  versions that have it. The server carries them by default (it behaves like the cluster a user
  will meet); ``conformant`` switches them off.

``docs/es-source-findings.md`` records how each row was read and how far it can be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property


@cache  # asked on every request (``has``, ``major``): a handful of distinct lines
def line_key(line: str) -> tuple[int, int]:
    """``"9.2"`` → ``(9, 2)``; 8.19 sorts before 9.x (nothing after 9.1 was back-ported to it)."""
    major, minor = line.split(".")[:2]
    return int(major), int(minor)


@dataclass(frozen=True)
class Release:
    """The patch release modelled for one minor: what ``GET /`` answers as ``version``."""

    number: str
    build_hash: str
    build_date: str
    lucene_version: str
    minimum_wire_compatibility_version: str
    minimum_index_compatibility_version: str

    @property
    def line(self) -> str:
        return ".".join(self.number.split(".")[:2])

    def info(self) -> dict[str, object]:
        """``version`` of ``GET /`` (ES RestMainAction / MainResponse)."""
        return {
            "number": self.number,
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": self.build_hash,
            "build_date": self.build_date,
            "build_snapshot": False,
            "lucene_version": self.lucene_version,
            "minimum_wire_compatibility_version": self.minimum_wire_compatibility_version,
            "minimum_index_compatibility_version": self.minimum_index_compatibility_version,
        }


# The newest patch of each minor as of 2026-11 (release bundles under
# docs/release-notes/changelog-bundles/ of elastic/elasticsearch; 8.19.21 from its release tag).
# Build hashes and dates are stand-ins (only their shape matters to clients); Lucene versions
# follow each minor's server/build.gradle era and are not asserted by anything.
RELEASES: dict[str, Release] = {
    r.line: r
    for r in (
        Release("8.19.21", "4fe44c2b1c8a3e7f0d2b9a6e5c4f3a2b1c0d9e8f", "2026-10-28T09:12:40.118223571Z",
                "9.12.2", "7.17.0", "7.0.0"),
        Release("9.1.10", "0998957e9b338ec5a19577cf3b8ab2d2f2a32fd3", "2026-01-13T15:40:02.531377881Z",
                "10.2.2", "8.19.0", "8.0.0"),
        Release("9.2.8", "bed00532c70c3962ed33406f9903ab7a9e9b2274", "2026-04-07T11:03:55.902141377Z",
                "10.3.1", "8.19.0", "8.0.0"),
        Release("9.3.8", "c1ab574b3d2bafcebf4d0801ace06b74b9502e6f", "2026-07-21T13:36:16.468159628Z",
                "10.3.2", "8.19.0", "8.0.0"),
        Release("9.4.8", "6e70b4885744215026e83601aef870daf6661e80", "2026-10-06T14:34:33.714655752Z",
                "10.4.0", "8.19.0", "8.0.0"),
        Release("9.5.4", "1356a1b5f4f744a894593021dab0747b18e56d2c", "2026-11-03T08:55:12.774310962Z",
                "10.4.0", "8.19.0", "8.0.0"),
    )
}  # fmt: skip
NEWEST = max(RELEASES, key=line_key)
OLDEST = min(RELEASES, key=line_key)


@dataclass(frozen=True)
class Change:
    """A behaviour that Elasticsearch changed after 9.1, from ``since`` on."""

    name: str
    since: str  # first minor with the new behaviour
    source: str  # the Elasticsearch PR / file and method it comes from
    what: str  # the new behaviour, one line


CHANGES: tuple[Change, ...] = (
    Change("chunk-cap-elser-model", "9.2",
           "#133718; ElserInternalModel (ELSER_MAX_WINDOW_SIZE)",
           "the general 300 cap on max_chunk_size is gone; ELSER models reject > 300 with "
           "illegal_argument_exception 'ELSER based models do not support chunk sizes larger than "
           "300. Requested chunk size: N', after every other PUT check"),
    Change("chunk-message-wording", "9.3",
           "#136219 (chunking moved to x-pack core); InferenceUtils.mustBeGreaterThanOrEqualNumberErrorMessage",
           "bound messages read 'must be greater than or equal to' (the 'a' dropped)"),
    Change("inference-query-rejected", "9.2",
           "#131641 (9.2.0 release notes, Machine Learning fixes); InferenceAction.Request.validate",
           "'query' with task type sparse_embedding/text_embedding in the URL: "
           "'Field [query] cannot be specified for task type [sparse_embedding]'"),
    Change("embedding-task-type", "9.3",
           "#138198; TaskType.EMBEDDING",
           "'embedding' is a task type (no longer 'Unknown task_type [embedding]')"),
    Change("update-num-threads-rejected", "9.2",
           "#138122, back-ported to 9.2 as #138191 (label v9.2.2; #138122 is in the 9.2.2 release "
           "notes, so 9.2.0/9.2.1 still ignore it; the modelled 9.2.8 rejects it); "
           "ElasticsearchInternalServiceSettings.updateServiceSettings",
           "num_threads in _update: validation_exception '[num_threads] cannot be updated' "
           "(before: silently ignored, #137129)"),
    # No 'inference-timeout-504' row: #145838 (504, 9.4.0) and #146531 (429, back-ported to 9.3/9.4
    # as #148204/#148142) change the inference plugin's TimedListener (external services) and
    # SageMaker. An ELSER request times out on the ML node instead
    # (AbstractPyTorchAction.onTimeout: ElasticsearchStatusException REQUEST_TIMEOUT, 'timeout [..]
    # waiting for inference result'), and the inference plugin passes that exception through
    # (ElasticsearchInternalService.inferSparseEmbedding -> InferModelAction listener): 408 in
    # every modelled version.
    Change("update-timeout-param", "9.5",
           "#152179; RestUpdateInferenceModelAction, spec UpdateInferenceRequest (since 9.5.0)",
           "_update accepts ?timeout"),
    Change("update-chunking-settings", "9.5",
           "#149723; TransportUpdateInferenceModelAction.combineExistingModelConfigurationsWithNewSettings",
           "chunking_settings in _update replaces the stored object (validated as on PUT)"),
    Change("update-unknown-settings-rejected", "9.5",
           "#149430; TransportUpdateInferenceModelAction.validateConsumedUpdateSettings",
           "unknown keys in _update service_settings: 'Configuration contains settings [...] "
           "unknown to the [elasticsearch] service'"),
    Change("update-default-endpoint-message", "9.5",
           "#150368; TransportUpdateInferenceModelAction.validateEndpointIsNotDefault",
           "_update no longer validates the id syntax (PR text: 'removes unwanted inference entity "
           "id validation'); a default endpoint gets status_exception 'Default endpoint [<id>] "
           "cannot be updated' after the 404 check (before: the invalid inference_id error)"),
    Change("inference-rerank-fields-removed", "9.5",
           "#150116 (opened 2026-05-28, merged before the 9.5 branch of 2026-07 — minor inferred "
           "from the dates); InferenceAction.Request.PARSER (no query/return_documents/top_n), "
           "TransportInferenceActionProxy (rerank → RerankAction.Request.parseRequest)",
           "the inference body of a non-rerank request no longer declares query, return_documents "
           "or top_n: each is an unknown field (x_content_parse_exception '[l:c] "
           "[cluster:internal/xpack/inference] unknown field [top_n]'), also on the one-segment "
           "URL; rerank requests are parsed by RerankRequest.PARSER ('[RerankRequest] unknown field "
           "[input_type]', 'Required [input, query]') and RerankAction.Request.validate "
           "(errors accumulated) before the lookup"),
    Change("update-body-parse-400", "9.5",
           "#148448 and its follow-up (UpdateInferenceModelAction.Request.CachedParsedSettings "
           ".moveFieldToMap; 9.5 copy with chunking_settings and the #152179 timeout)",
           "_update body: a non-string task_type is a 400 (was 500); a non-object section says "
           "'Unable to parse [service_settings] in the request [...]' (was 'service settings'); "
           "a null inside a section is no longer a 500 (passed on to the service: not modelled)"),
    Change("semantic-text-default-id-setting", "9.4",
           "#143486; SemanticTextFieldMapper.INDEX_SEMANTIC_TEXT_DEFAULT_INFERENCE_ID, getDefaultInferenceId",
           "index setting index.semantic_text.default_inference_id pins the inference_id of "
           "semantic_text fields that name none (before: 'unknown setting'); without it and "
           "without EIS (#134708 9.3, #142980 9.4 jina-v5) every version defaults to "
           "'.elser-2-elasticsearch'"),
    Change("exclude-source-vectors-default", "9.2",
           "#131907 (merged 2025-08; 9.2.0 by merge date); IndexSettings "
           "INDEX_MAPPING_EXCLUDE_SOURCE_VECTORS_SETTING",
           "index.mapping.exclude_source_vectors defaults to true for new indices: sparse_vector "
           "(and dense_vector) values are left out of _source in search and get answers unless "
           "the request sets _source.exclude_vectors: false (that form not modelled)"),
    # Elastic Inference Service (EIS), modelled only with `serve --eis` / ServerConfig(eis=True).
    Change("eis-elser", "9.2",
           "docs-content #3014 (ELSER on EIS GA, 'stack: preview 9.1'); ElasticInferenceService, "
           "ElasticInferenceServiceSparseEmbeddingsServiceSettings.fromMap; max_batch_size [1, 1024] "
           "back-ported to 9.2/9.3 (#141185 → #141341/#141335, #141516 → #141536/#141535)",
           "service 'elastic' and the preconfigured '.elser-2-elastic' once EIS authorises the "
           "cluster; 8.19/9.1 had it in technical preview (not modelled: --eis refused)"),
    Change("semantic-text-default-eis", "9.3",
           "#134708; SemanticTextFieldMapper.getPreferredElserInferenceId (ModelRegistry.containsDefaultConfigId)",
           "semantic_text without inference_id defaults to '.elser-2-elastic' when EIS authorised it"),
    Change("semantic-text-default-jina", "9.4",
           "#142980; InternalPreconfiguredEndpoints.DEFAULT_JINA_V5_ENDPOINT_ID; docs-content #7618",
           "with EIS the semantic_text default is '.jina-embeddings-v5-text-small' (dense: not "
           "modelled, refused by name)"),
    Change("eis-retry-after-header", "9.5",
           "#147985 (9.5.0 release notes, Inference: 'Apply Retry-After header if present in EIS "
           "responses'); ElasticInferenceServiceResponseHandler.addRetryAfterHeaderIfPresent",
           "an EIS error answer carries EIS's Retry-After header (before: no Retry-After)"),
    Change("eis-removed-endpoints-deleted", "9.4",
           "#145224 (merged 2026-03-30; minor inferred from the merge date); AuthorizationPoller; "
           "before: #136713 / #123639 keep endpoints whose authorization was withdrawn",
           "an authorization response listing an endpoint under removed_endpoints deletes it"),
    Change("form-encoded-bodies", "9.5",
           "#149005 (PR description); RestController (form-encoded POST bodies)",
           "application/x-www-form-urlencoded POST bodies are decoded into request parameters, "
           "only for handlers that opt in (read-only GET/POST route pairs, e.g. PromQL #148974) "
           "with HTTP TLS on and a non-anonymous caller; no inference or ML route opts in, so "
           "they still answer 406 (app._check_content_type)"),
)  # fmt: skip
_CHANGES = {c.name: c for c in CHANGES}


@dataclass(frozen=True)
class Bug:
    """A known upstream bug: the ``defect`` of ``breakage/defects.py`` that reproduces it."""

    defect: str
    issue: str  # elastic/elasticsearch issue
    lines: tuple[str, ...]  # minors that have it
    source: str
    what: str
    # True: a contract test catches it and contracts/known_deviations.toml lists it for the
    # gate. False: the gate cannot see it (it needs a restart on a data directory: verify and
    # doctor see it); the server carries it all the same.
    in_gate: bool = True


BUGS: tuple[Bug, ...] = (
    Bug("rejected-put-stored", "#137127", ("8.19", "9.1", "9.2", "9.3", "9.4", "9.5"),
        "TransportPutInferenceModelAction.masterOperation stores the model, then starts the "
        "deployment; no rollback (an attempt, #116119, closed unmerged)",
        "a PUT rejected at deployment start answers the error and stays stored"),
    Bug("update-num-threads-ignored", "#137129", ("8.19", "9.1"),
        "ElasticsearchInternalServiceSettings.updateServiceSettings reads only num_allocations and "
        "adaptive_allocations; fixed by #138122 (9.3) and its 9.2 back-port #138191 (no 9.1 / "
        "8.19 back-port found)",
        "num_threads in _update is silently ignored (200, unchanged)"),
    Bug("elser-text-embedding-accepted", "#122249", ("8.19", "9.1", "9.2", "9.3", "9.4", "9.5"),
        "ElasticsearchInternalService.elserCase never checks the task type (9.1-line); the newest "
        "ElserInternalModelCreator.matches checks the model id only, and "
        "ElasticsearchInternalServiceModelValidator validates only CustomEland/ElasticDeployed "
        "text_embedding models (9.1 and newest copies) — not fixed in any modelled version",
        "an ELSER model_id is accepted under task type text_embedding; inference then fails with "
        "403 'Trained model [<model>] is configured for task [text_expansion] but called with "
        "task [text_embedding]' (TrainedModelDeploymentTask.infer)"),
    Bug("zero-allocation-dropped-on-start", "#137134", ("9.1", "9.2"),
        "AssignmentPlanner.computePlan left deployments with zero allocations out of the plan "
        "(the fix, #137244 'Preserve deployments with zero allocations during assignment "
        "planning', is in the 9.3.0 release notes; no 9.2/9.1 back-port found). Reported on "
        "9.2.0; 9.1 inferred from #132170 (AssignmentPlan counts assigned allocations only), "
        "back-ported to 9.1 as #132270; no 8.19 back-port found",
        "starting another deployment (a new endpoint) drops a deployment scaled to zero: its "
        "endpoint stays, inference answers 404 'Unable to find model deployment task [..]'"),
    Bug("zero-allocation-lost-on-restart", "#146806", ("8.19", "9.1", "9.2"),
        "TrainedModelAssignmentClusterService.setShuttingDownNodeRoutesToStopping dropped "
        "assignments with an empty routing table; fixed by #146910 (9.4.0 release notes), "
        "back-ported to 9.4 (#147304) and 9.3 (#147306, merged 2026-04-23: in the modelled "
        "9.3.8); no 8.19/9.1/9.2 back-port found",
        "a deployment at zero allocations when the ML node shuts down (a restart on the same "
        "--data-dir) is gone afterwards: inference answers 404 'Unable to find model deployment "
        "task [..] please stop and start the deployment or try again momentarily'",
        in_gate=False),
)  # fmt: skip


@dataclass(frozen=True)
class EsVersion:
    """One modelled Elasticsearch version; ``has`` answers the change rows above."""

    release: Release

    @cached_property  # asked on every request
    def line(self) -> str:
        return self.release.line

    @property
    def number(self) -> str:
        return self.release.number

    @cached_property
    def major(self) -> int:
        return line_key(self.line)[0]

    def has(self, change: str) -> bool:
        """Whether this version has the named :data:`CHANGES` row (unknown names are a bug)."""
        return line_key(self.line) >= line_key(_CHANGES[change].since)

    @property
    def bugs(self) -> tuple[Bug, ...]:
        """The upstream bugs this version is known to have."""
        return tuple(b for b in BUGS if self.line in b.lines)

    def __str__(self) -> str:
        return self.number


class UnknownVersion(ValueError):
    """A version the reference server does not model."""


def resolve(text: str | None = None) -> EsVersion:
    """``"9.4"``, ``"9.4.8"`` or ``None`` (the newest) → the modelled version of that minor."""
    if text is None:
        return EsVersion(RELEASES[NEWEST])
    try:
        line = ".".join(str(p) for p in line_key(text))
    except ValueError:
        line = ""
    if line not in RELEASES:
        raise UnknownVersion(
            f"unknown Elasticsearch version {text!r}; modelled: {', '.join(supported())}"
        )
    return EsVersion(RELEASES[line])


def supported() -> list[str]:
    """The modelled minors, oldest first."""
    return sorted(RELEASES, key=line_key)
