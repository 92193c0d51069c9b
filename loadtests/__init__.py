"""Locust load tests for ELSER endpoints: ``locust -f loadtests/locustfile.py --host URL``.

``locustfile.py`` is the entry point; the locust glue (users, shapes, monitor, web UI tab) lives
in ``elser_locust/``; the pure parts (stage plans, expectations, run files, corpus) in
``elsercheck.load``.
"""
