"""The inference estate of a cluster: what already exists (endpoints, deployments,
``semantic_text`` fields), read through the public HTTP API only, so that ``snapshot``,
``verify``, ``doctor`` and ``upgrade-check`` work against any cluster (the embedded reference
server today, a real Elasticsearch tomorrow).

Modules: ``cluster.py`` (reading the estate), ``probe.py`` (the bundled probe texts, the probe
index, embeddings and top-k), ``snapshot.py`` (the snapshot file), ``findings.py`` (findings,
their exit code, the JSON and HTML reports), ``verify.py``, ``doctor.py``, ``known_bugs.py``
(the upstream bugs an estate can meet, per version), ``upgrade.py`` (what differs between two
modelled versions).
"""
