"""elsercheck: conformance gate and load tests for the Elasticsearch Inference API (ELSER)."""

__version__ = "0.1.0"
