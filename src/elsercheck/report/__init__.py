"""Load-run reports: ``report.html``, the versioned ``summary.json``, the run history with
regression thresholds, and the ``reports/index.html`` landing page.

Modules, one job each: ``timeseries`` (time windows), ``charts`` (matplotlib → inline SVG),
``stages`` (load shape spans), ``metrics`` (the compared metrics and thresholds), ``compare``
(baselines vs contender, with their noise interval), ``history`` (stored summaries, baseline
choice), ``gate`` (the
conformance result), ``document`` (summary.json and verdict), ``html`` (the page),
``build`` (all of it for one run), ``command`` (the CLI), ``index`` (the landing page).
Nothing here imports locust.
"""
