"""Locust glue for elsercheck's load tests. Importing this package imports locust (and so
gevent's monkey-patching): keep it out of the contract suite and of pytest processes."""
