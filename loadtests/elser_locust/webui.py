"""The "Allocations" tab of the locust web UI: the deployment's state beside the request charts.

Locust's extension points give a tab (``extended_tabs``) but only tables inside it, so the tab
is registered empty and a small script (``static/allocations.js``, injected into locust's page)
draws a live chart of allocations vs target, users and pending requests into it whenever the
tab is open. Its data comes from ``/elsercheck/allocations.json`` on the same web server.
Open it directly with ``http://127.0.0.1:8089/?tab=allocations``.

The "Expectations" tab (a locust extended table, fed through ``/stats/requests``'
``extended_stats`` as in locust's examples/extend_web_ui.py) lists the verdicts of every run
this process finished, one row per expectation, as each run ends; ``/elsercheck/runs.json``
has them with each run's id, directory and report.html (every start of the web UI is a run of
its own, reported into the history like ``elsercheck load``'s).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Response, jsonify, request, send_file

TAB_KEY = "allocations"
VERDICTS_KEY = "expectations"
VERDICT_COLUMNS = (
    {"key": "run_id", "title": "run"},
    {"key": "name", "title": "expectation"},
    {"key": "status", "title": "verdict"},
    {"key": "detail", "title": "detail"},
)
SCRIPT = Path(__file__).with_name("static") / "allocations.js"
SCRIPT_TAG = b'<script src="./elsercheck/allocations.js"></script>'
MAX_POINTS = 2000  # the chart keeps the whole run readable by thinning beyond this


def install(environment: Any, load: Any) -> None:
    """Register the tab, the data route and the script injection (no-op when headless)."""
    web_ui = getattr(environment, "web_ui", None)
    if web_ui is None:
        return
    web_ui.template_args["extended_tabs"] = [
        {"title": "Allocations", "key": TAB_KEY},
        {"title": "Expectations", "key": VERDICTS_KEY},
    ]
    web_ui.template_args["extended_tables"] = [
        {"key": VERDICTS_KEY, "structure": list(VERDICT_COLUMNS)}
    ]
    app = web_ui.app

    @app.route("/elsercheck/runs.json")
    def runs_json() -> Response:
        return jsonify({"runs": list(load.runs)})

    @app.after_request
    def add_verdicts(response: Response) -> Response:
        if request.path == "/stats/requests" and response.is_json:
            data = response.get_json()
            data["extended_stats"] = [
                *(data.get("extended_stats") or []),
                {"key": VERDICTS_KEY, "data": verdict_rows(load.runs)},
            ]
            response.set_data(json.dumps(data))
        return response

    @app.route("/elsercheck/allocations.json")
    def allocations_json() -> Response:
        return jsonify(snapshot(load))

    @app.route("/elsercheck/allocations.js")
    def allocations_js() -> Response:
        return send_file(SCRIPT, mimetype="application/javascript", max_age=0)

    @app.after_request
    def inject_script(response: Response) -> Response:
        if request.path.rstrip("/") == "" and response.mimetype == "text/html":
            body = response.get_data()
            if SCRIPT_TAG not in body:
                response.set_data(body.replace(b"</body>", SCRIPT_TAG + b"\n</body>", 1))
        return response


def verdict_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Expectations table: one row per expectation of each finished run, newest first."""
    return [
        {"run_id": run["run_id"], **item}
        for run in reversed(runs)
        for item in run["expectations"] or [{"name": "–", "status": "none", "detail": ""}]
    ]


def snapshot(load: Any) -> dict[str, Any]:
    """What the chart shows: the monitor's rows so far, the plan and the endpoint's bounds."""
    monitor = load.monitor
    rows = list(monitor.rows) if monitor is not None else []
    step = max(1, len(rows) // MAX_POINTS)
    columns = ("elapsed_s", "allocation_count", "target_allocation_count", "user_count",
               "offered_rate", "number_of_pending_requests", "average_inference_time_ms",
               "state", "poll_error")  # fmt: skip
    settings = load.settings
    return {
        "inference_id": settings.inference_id,
        "shape": settings.shape,
        "max_allocations": settings.max_allocations if settings.create_endpoint else None,
        "min_allocations": settings.min_allocations if settings.create_endpoint else None,
        "stages": load.plan.to_json(),
        "rows": [{key: row.get(key) for key in columns} for row in rows[::step]],
    }
