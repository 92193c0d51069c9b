"""Benchmarks of elsercheck against its peers (``make bench``); see ``bench/run.py``.

Not part of the installed package: a developer tool that needs ``wrk``, ``taskset`` and the
repository's ``loadtests/`` and ``contracts/``, like ``tests/``.
"""
