"""Reading load runs: a run directory's format (``rundir.py``), its files loaded once
(``runfiles.py``), run.json as typed metadata (``metadata.py``) and the figures made of them
(``summary.py``, ``ingest_summary.py``, ``cost.py``, ``cold_starts.py``, ``stats.py``).

Running load is ``elsercheck.load`` (and ``loadtests/``); it writes runs in this format. Reading
never imports the running side's machinery (the layering contract in pyproject.toml)."""
