"""The embedded reference server: a faithful stand-in for the Elasticsearch 9.1 inference API."""
