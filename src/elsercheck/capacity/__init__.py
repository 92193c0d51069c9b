"""``elsercheck capacity``: the highest offered rate an endpoint sustains within a latency
objective, per allocation, with its confidence interval and the knee.

Modules, one job each: ``sweep.py`` (the plan of offered rates), ``point.py`` (what one point
measured, read from a load run's files), ``knee.py`` (whether a point was sustained, and where the
knee is: pure), ``statistics.py`` (confidence intervals, when to repeat), ``deployment.py`` (the
fixed-allocation endpoint under test and the probe), ``model.py`` (the reference server's true
capacity, for tests and the page), ``result.py`` (``capacity.json``), ``charts.py`` and
``page.py`` (``capacity.html``), ``command.py`` (the CLI command); ``traffic.py`` (a traffic
description: peak and trough, or a recorded load run) and ``recommend.py`` (the recommended
settings from a measured capacity and a traffic, each with its reason).

Every rate is in the cluster's time (requests per second of the cluster a fast-timing reference
server stands for) and every latency too: a time-lapse target's wall-clock figures are divided
(rates) or multiplied (latencies) by its speedup once, where a point is read.
"""
