"""Indices of the reference server: storage (store.py) and semantic_text ingest (ingest.py)."""
