"""Load runs: the pure parts (run files, shapes' stage plans, scaling expectations, corpus).

Nothing in this package imports locust; the locust glue lives in ``loadtests/``.
"""
