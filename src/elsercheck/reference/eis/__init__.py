"""The Elastic Inference Service as the reference server models it (only with ``--eis``):
``upstream.py`` the service itself (authorization, sliding-window limits, sparse embeddings),
``client.py`` Elasticsearch's side of the calls (batches, retries,
errors as ES reports them), ``authorization.py`` ES's authorization poller, ``router.py`` which
service answers an endpoint's inference."""
