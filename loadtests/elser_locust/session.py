"""One locust process's part of a load run: settings, the endpoint under load, the monitor,
the recorder, and the run files and expectations at the end.

Wiring (locust events): ``init`` validates the options; ``test_start`` (master or local process)
creates the run's endpoint and waits for it to serve (and, for the semantic_text workloads,
the run index bound to it, seeded for searches), then starts the shape's clock and the
monitor; ``test_stop`` stops the monitor and deletes what the run created; ``quitting`` writes
the files, checks the expectations and sets the exit code. Workers only send load and ship
their samples.

Stop signals (SIGINT, SIGTERM, SIGHUP; ``elsercheck.signals``): the first one quits the runner as
the shape's end does, so ``test_stop`` and ``quitting`` run: what was measured so far is written,
everything carrying the run prefix is deleted, and the process exits 128 + n. The process also
dies with the ``elsercheck load`` that started it (SIGTERM when it goes).
"""

from __future__ import annotations

import logging
import os
import platform
import signal
import threading
import time
from pathlib import Path
from typing import Any

import gevent
import locust
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from elsercheck import __version__, heap, signals
from elsercheck.exit_codes import ExitCode
from elsercheck.load import documents, eis, generator, simulator, workloads
from elsercheck.load.corpus import Corpus, Sampler, parse_mix
from elsercheck.load.expectations import RunRecord, check_all, exit_code
from elsercheck.load.plans import Plan
from elsercheck.run_id import new_run_id
from elsercheck.runs import rundir
from elsercheck.target import without_userinfo

from .connection import control_session
from .endpoints import Endpoints
from .monitor import AllocationMonitor
from .options import OptionError, Settings, settings_from
from .recorder import Recorder

log = logging.getLogger("elsercheck.load")


class LoadSession:
    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        # What the command line named, before settings_from() generates a run id: each start
        # of the web UI is a run of its own, named from these (next_run()).
        options = environment.parsed_options
        self.given_run_id: str = getattr(options, "run_id", "") or ""
        self.given_results_dir: str = str(getattr(options, "results_dir", "") or "")
        self.starts = 0  # test starts in this process (the web UI can start many)
        self.runs: list[dict[str, Any]] = []  # each finished run: id, directory, verdicts
        self.settings: Settings = settings_from(environment.parsed_options)
        self.corpus = Corpus.load(self.settings.corpus or None)
        needed = workloads.needs_index(self.settings.workload)
        self.documents = documents.load(self.settings.corpus or None) if needed else ()
        self.index_report: dict[str, Any] | None = None  # run.json "index"
        self.recorder = Recorder(environment)
        self.monitor: AllocationMonitor | None = None
        self.endpoints: Endpoints | None = None
        self.lifecycle_endpoints: Endpoints | None = None
        self.lifecycle_slots = threading.BoundedSemaphore(self.settings.lifecycle_max_alive)
        self.origin = time.time()
        self.started_at: str | None = None
        self.failure: str | None = None
        self.written = True  # nothing to write before a test starts
        self._writing = threading.Lock()  # gevent's under locust
        self.leftovers: list[str] = []
        self.target_version: str | None = None
        self.service: str | None = None  # the endpoint's service (GET _inference), once known
        self.workers = 0
        self.interrupted: int | None = None  # the stop signal that ended the run
        self.preparing = False  # True while test_start creates the endpoint and the index
        self._mix = parse_mix(self.settings.mix)

    @property
    def plan(self) -> Plan:
        """The stage plan of the current options (the same object the shape follows)."""
        return self.settings.plan

    # -- helpers for users ---------------------------------------------------------------------
    def sampler(self, seed: int) -> Sampler:
        return Sampler(self.corpus, self._mix, batch_share=self.settings.batch_share, seed=seed)

    @property
    def coordinates(self) -> bool:
        """True in the process that owns the endpoint and the monitor (master or local)."""
        return not isinstance(self.environment.runner, WorkerRunner)

    def _load_now(self) -> tuple[int, float]:
        runner = self.environment.runner
        if runner is None:
            return 0, 0.0
        counts = getattr(runner, "user_classes_count", {}) or {}
        rates = {"IngestUser": self.settings.bulk_rate_per_user}  # bulks; the others requests
        offered = sum(
            counts.get(name, 0) * rates.get(name, self.settings.rate_per_user)
            for name in workloads.LOAD_USER_CLASSES
        )
        return runner.user_count, offered

    # -- stop signals --------------------------------------------------------------------------
    def handle_stop_signals(self) -> None:
        """Take SIGINT/SIGTERM/SIGHUP over from locust (its SIGTERM handler skips ``test_stop``,
        SIGHUP would kill at once, SIGINT interrupts whichever greenlet runs)."""
        for sig in signals.STOP_SIGNALS:
            signal.signal(sig, self._on_stop_signal)

    def _on_stop_signal(self, signum: int, _frame: object) -> None:
        if self.interrupted is not None:
            return  # already stopping; the cleanup is bounded by the parent's grace period
        self.interrupted = signum
        log.warning("elsercheck: %s: stopping the run, writing what was measured, deleting "
                    "what the run created", signal.Signals(signum).name)  # fmt: skip
        # Not here: a signal handler interrupts whatever greenlet happens to run.
        gevent.spawn(self._quit)

    def _quit(self) -> None:
        runner = self.environment.runner
        if runner is not None:
            runner.quit()  # stops the users (test_stop), ends locust's main greenlet (quitting)
            # With the web UI, locust's main greenlet is the web server's: stop it too, or the
            # process lives on after a finished run (issue 24: ~70 s after SIGTERM or SIGINT).
            web_ui = getattr(self.environment, "web_ui", None)
            if web_ui is not None:
                web_ui.stop()
        else:
            raise SystemExit(signals.exit_code(self.interrupted or signal.SIGINT))

    def next_run(self, options: Any) -> None:
        """Name the next start's run: the first start keeps the run id and directory the
        command line gave (or generated); each later one gets its own, so a second start in
        the web UI never overwrites the first run's files or deletes its endpoint's prefix."""
        self.starts += 1
        if self.starts == 1:
            return
        number, previous = self.starts, self.settings
        # The web UI's form sends the last run's values back: a value typed in it is kept.
        if not options.run_id or options.run_id == previous.run_id:
            options.run_id = f"{self.given_run_id}-{number}" if self.given_run_id else new_run_id()
        posted = str(options.results_dir or "")
        if self.given_results_dir and posted in (self.given_results_dir, str(previous.results_dir)):
            given = Path(self.given_results_dir)
            options.results_dir = str(given.with_name(f"{given.name}-{number}"))

    def sweep(self) -> list[str]:
        """Delete every endpoint with the run prefix, tracked or not: a PUT cut short by a stop
        signal may have stored one. Never the endpoint given with ``--inference-id``."""
        endpoints = self.endpoints or self.lifecycle_endpoints
        if endpoints is None:
            return []
        given = self.settings.inference_id
        if not self.settings.create_endpoint and given.startswith(endpoints.prefix):
            return endpoints.cleanup()  # a given id under our prefix: delete only what we made
        return endpoints.cleanup(sweep=True)

    # -- events --------------------------------------------------------------------------------
    def on_test_start(self, environment: Environment, **_: Any) -> None:
        # Now locust's own SIGTERM handler exists (it is installed after ``init``): replace it.
        self.handle_stop_signals()
        if self.coordinates:  # the master names the run; workers get its options at spawn
            self.next_run(environment.parsed_options)
        self.settings = settings_from(environment.parsed_options)  # workers: the master's values
        self._mix = parse_mix(self.settings.mix)
        self.lifecycle_slots = threading.BoundedSemaphore(self.settings.lifecycle_max_alive)
        session = control_session(self.settings.insecure)
        host = environment.host or ""
        self.lifecycle_endpoints = Endpoints(session, host, self.settings.prefix)
        if not self.coordinates:
            return
        self.recorder.clear()
        self.failure = None
        self.leftovers = []  # of this run (a web UI start after another)
        # At the end workers have gone: count them now.
        self.workers = (
            runner.worker_count if isinstance(runner := environment.runner, MasterRunner) else 0
        )
        self.started_at = _now_iso()
        self.origin = time.time()  # until the endpoint serves: a stop signal may come first
        self.endpoints = Endpoints(session, host, self.settings.prefix)
        self.target_version = _target_version(self.endpoints)
        self.index_report = None
        self.preparing = True  # the shape holds its first stage meanwhile (shapes.py)
        try:
            self._prepare_endpoint()
            self._prepare_index()
        except Exception as exc:  # any failure: stop the run with one clear line
            self.failure = (
                f"{type(exc).__name__}: {exc}" if not isinstance(exc, RuntimeError) else str(exc)
            )
            log.error("elsercheck: %s", self.failure)
            environment.process_exit_code = ExitCode.USAGE  # no endpoint, or it never served
            if environment.runner is not None:
                gevent.spawn_later(0.1, environment.runner.quit)
            return
        finally:
            self.preparing = False
        self.origin = time.time()
        if environment.shape_class is not None:
            environment.shape_class.reset_time()
        self.service = self.endpoints.service_of(self.settings.inference_id)
        self.monitor = AllocationMonitor(
            self.endpoints,
            self.settings.inference_id,
            self.settings.monitor_interval,
            self._load_now,
            deployment_stats=not eis.is_eis(self.service),
        )
        self.monitor.start(self.origin, self.settings.results_dir / rundir.ALLOCATIONS_CSV)
        self.written = False
        log.info(
            "elsercheck: load on %s (shape %s, %d s), results in %s",
            self.settings.inference_id,
            self.settings.shape,
            self.plan.duration_s,
            self.settings.results_dir,
        )

    def _prepare_endpoint(self) -> None:
        settings, endpoints = self.settings, self.endpoints
        assert endpoints is not None
        if settings.create_endpoint:
            response = endpoints.create_waiting(
                settings.inference_id, settings.endpoint_body(), settings.allocation_wait
            )
            if response.status_code not in (200, 408):
                raise RuntimeError(
                    f"creating {settings.inference_id}: HTTP "
                    f"{response.status_code} {response.text[:300]}"
                )
        elif not endpoints.exists(settings.inference_id):
            raise RuntimeError(f"endpoint {settings.inference_id} not found")
        # Serve once before the clock starts, so the first stage measures scaling, not start-up.
        # min 0 may leave the deployment at zero: one request starts it (409 until then).
        deadline = time.monotonic() + settings.allocation_wait
        url = endpoints.url(f"/_inference/sparse_embedding/{settings.inference_id}")
        while True:
            response = endpoints.session.post(url, json={"input": "warm up"}, timeout=60)
            if response.status_code == 200:
                return
            if time.monotonic() > deadline or response.status_code not in (408, 409, 429, 502):
                raise RuntimeError(
                    f"{settings.inference_id} does not serve: HTTP "
                    f"{response.status_code} {response.text[:300]}"
                )
            time.sleep(0.5)

    def _prepare_index(self) -> None:
        """The run index of the semantic_text workloads, bound to the endpoint under load;
        seeded (and refreshed) when the workload searches."""
        settings, endpoints = self.settings, self.endpoints
        if not workloads.needs_index(settings.workload) or endpoints is None:
            return
        name = settings.index_name
        response = endpoints.create_index(
            name,
            workloads.index_body(settings.inference_id, workloads.lexical(settings.search_query)),
        )
        if response.status_code != 200:
            raise RuntimeError(
                f"creating index {name}: HTTP {response.status_code} {response.text[:300]}"
            )
        self.index_report = {"name": name, "field": workloads.SEMANTIC_FIELD, "seeded": 0}
        if not workloads.seeds_index(settings.workload):
            return
        from .users import bulk_body, bulk_outcome  # users imports locust's HTTP client

        seed = [self.documents[i % len(self.documents)] for i in range(workloads.SEED_DOCUMENTS)]
        response = endpoints.session.post(
            endpoints.url(f"/{name}/_bulk"),
            params={"refresh": "true"},
            data=bulk_body(seed, workloads.lexical(settings.search_query)),
            headers={"Content-Type": "application/x-ndjson"},
            timeout=settings.allocation_wait,
        )
        acknowledged, failures = bulk_outcome(response.content, len(seed))
        if response.status_code != 200 or not acknowledged:
            raise RuntimeError(
                f"seeding index {name}: HTTP {response.status_code} "
                f"{failures or response.text[:300]}"
            )
        self.index_report["seeded"] = acknowledged

    def _count_index(self) -> None:
        """Before the index goes: refresh it and count what it holds (run.json "index")."""
        endpoints, report = self.endpoints, self.index_report
        if endpoints is None or report is None or "count" in report:
            return
        try:
            name = report["name"]
            endpoints.session.post(endpoints.url(f"/{name}/_refresh"), timeout=60)
            answer = endpoints.session.get(endpoints.url(f"/{name}/_count"), timeout=60)
            report["count"] = answer.json()["count"] if answer.status_code == 200 else None
        except Exception:  # a count is for the report; the cleanup must go on
            report["count"] = None

    def on_test_stop(self, environment: Environment, **_: Any) -> None:
        if self.monitor is not None:
            self.monitor.stop()
        if self.coordinates:
            self._count_index()
        if self.coordinates and self.endpoints is not None:
            self.leftovers = self.endpoints.cleanup()
        if self.lifecycle_endpoints is not None:
            self.leftovers += self.lifecycle_endpoints.cleanup()
        if self.coordinates and not self.written:
            # Distributed: the workers' last samples arrive with their final reports.
            grace = 3.5 if isinstance(environment.runner, MasterRunner) else 0.0
            gevent.spawn_later(grace, self.write_results)

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        if self.lifecycle_endpoints is not None:
            self.leftovers += self.lifecycle_endpoints.cleanup()
        if self.coordinates:
            self._count_index()
        if self.endpoints is not None:
            self.leftovers += self.endpoints.cleanup()
        if not self.coordinates:
            return
        if self.interrupted is not None:
            self.leftovers = self.sweep()  # what the deletes above left, or never knew of
            if self.started_at is not None and self.failure is None and self.monitor is None:
                self.written = False  # stopped before the endpoint served: write what there is
        self.write_results()  # or wait for the writing under way: locust exits after this
        if self.failure is not None:
            environment.process_exit_code = ExitCode.USAGE  # no endpoint, or it never served

    # -- results -------------------------------------------------------------------------------
    def write_results(self) -> int:
        """Write the run files and check the expectations; returns (and sets) the exit code.

        Writing yields to other greenlets: a second caller waits until the files are there."""
        with self._writing:
            return self._write_results()

    def _write_results(self) -> int:
        if self.written:
            return self.environment.process_exit_code or ExitCode.OK
        self.written = True
        settings = self.settings
        out = settings.results_dir
        out.mkdir(parents=True, exist_ok=True)
        ended = time.time() - self.origin
        requests_rows = self.recorder.rows_since(self.origin)
        allocation_rows = self.monitor.rows if self.monitor else []
        record = RunRecord(
            self.plan,
            allocation_rows,
            requests_rows,
            min_allocations=settings.min_allocations if settings.create_endpoint else None,
            max_allocations=settings.max_allocations if settings.create_endpoint else None,
            ended_s=ended,
            unmade_arrivals=self.recorder.unmade,
            service=self.service,
        )
        results = check_all(record)
        code = exit_code(results)
        if self.interrupted is not None:
            code = signals.exit_code(self.interrupted)  # 130 SIGINT, 143 SIGTERM, 129 SIGHUP
        rundir.write_csv(out / rundir.REQUESTS_CSV, rundir.REQUEST_COLUMNS, requests_rows)
        rundir.write_csv(out / rundir.ALLOCATIONS_CSV, rundir.ALLOCATION_COLUMNS, allocation_rows)
        rundir.write_json(out / rundir.EXPECTATIONS_JSON, rundir.expectations_to_json(results))
        leftovers = sorted(set(self.leftovers))
        if leftovers:
            (out / rundir.LEFTOVERS_TXT).write_text("\n".join(leftovers) + "\n")
        run = self._run_json(ended, code)
        run["generator"] = generator.summarize(requests_rows, self.recorder.unmade)
        run["simulator"] = simulator.summarize(allocation_rows)  # null on a real cluster
        rundir.write_json(out / rundir.RUN_JSON, run)
        for item in results:
            log.info("elsercheck: %-8s %-24s %s", item.status, item.name, item.detail)
        self.runs.append(
            {
                "run_id": settings.run_id,
                "results_dir": str(out),
                "exit_code": code,
                "report": self._report(out),
                "expectations": [
                    {"name": item.name, "status": item.status, "detail": item.detail}
                    for item in results
                ],
            }
        )
        failed = sum(1 for item in results if item.status == "fail")
        # A warning, so that the web UI's log shows the verdict when the run ends.
        log.warning("elsercheck: run %s ended (exit %d): %d expectation(s), %d failed; files in %s",
                    settings.run_id, code, len(results), failed, out)  # fmt: skip
        self.environment.process_exit_code = code
        return code

    def _report(self, out: Path) -> str | None:
        """A web-UI run's report.html and summary.json, and its entry in the history, as
        ``elsercheck load`` makes them. Only for runs a person starts in the web UI: headless
        and autostarted runs (``elsercheck load [--web]``) are reported by the runner after
        locust ends."""
        autostart = getattr(self.environment.parsed_options, "autostart", False)
        if getattr(self.environment, "web_ui", None) is None or autostart:
            return None
        from elsercheck.report.build import ReportOptions, build_report
        from elsercheck.report.command import default_history

        try:
            result = build_report(ReportOptions(run_dir=out, history_dir=default_history()))
        except Exception as exc:  # the run's files are written; a report is a bonus here
            log.warning("elsercheck: no report for %s: %s", out, exc)
            return None
        return str(result.html)

    def _run_json(self, ended_s: float, code: int) -> dict[str, Any]:
        settings = self.settings
        return {
            "run_id": settings.run_id,
            "started_at": self.started_at,
            "finished_at": _now_iso(),
            "duration_s": round(ended_s, 3),
            "target": _without_credentials(self.environment.host or ""),
            "target_version": self.target_version,
            "shape": settings.shape,
            "workload": settings.workload,
            "index": self.index_report,
            "stages": self.plan.to_json(),
            "timing": {"profile": settings.timing_profile, **settings.timing.to_json()},
            "endpoint": {
                "inference_id": settings.inference_id,
                "service": self.service,
                "created": settings.create_endpoint,
                "settings": settings.endpoint_body() if settings.create_endpoint else None,
            },
            "options": {
                "peak_users": settings.peak_users,
                "bulk_size": settings.bulk_size,
                "search_query": settings.search_query,
                "rate_per_user": settings.rate_per_user,
                "bulk_rate_per_user": settings.bulk_rate_per_user,
                "arrivals": "poisson" if settings.poisson else "constant",
                "max_outstanding": settings.max_outstanding,
                "mix": settings.mix,
                "batch_share": settings.batch_share,
                "lifecycle_users": settings.lifecycle_users,
                "monitor_interval_s": settings.monitor_interval,
                "seed": settings.seed,
            },
            "workers": self.workers,
            "machine": {
                "platform": platform.platform(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            },
            "tools": {"elsercheck": __version__, "locust": locust.__version__},
            "exit_code": code,
            "interrupted_by": signal.Signals(self.interrupted).name if self.interrupted else None,
            "leftovers": sorted(set(self.leftovers)),
        }


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _without_credentials(url: str) -> str:
    try:
        return without_userinfo(url)
    except ValueError:
        return ""  # a URL locust could not have used either


def _target_version(endpoints: Endpoints) -> str | None:
    try:
        return endpoints.session.get(endpoints.url("/"), timeout=10).json()["version"]["number"]
    except Exception:  # a version is nice to have in the report, never a reason to fail
        return None


def install(environment: Environment) -> LoadSession | None:
    """Attach a LoadSession to ``environment`` (the ``init`` event); None on bad options."""
    # locust's last event: the run's files are written, the exit need not walk the heap.
    environment.events.quit.add_listener(lambda exit_code: heap.exit_without_collection())
    try:
        session = LoadSession(environment)
    except (OptionError, ValueError) as exc:
        log.error("elsercheck: %s", exc)
        environment.process_exit_code = ExitCode.USAGE  # bad options
        if environment.runner is not None:
            gevent.spawn_later(0.1, environment.runner.quit)
        return None
    environment.elsercheck = session  # type: ignore[attr-defined]
    if isinstance(environment.runner, MasterRunner):  # bound to port 0: tell the workers' parent
        port_file = session.settings.results_dir / rundir.MASTER_PORT_TXT
        port_file.write_text(f"{environment.runner.server.port}\n")
    session.handle_stop_signals()  # from the start; again at test_start (see there)
    signals.die_with_parent()
    events = environment.events
    events.test_start.add_listener(session.on_test_start)
    events.test_stop.add_listener(session.on_test_stop)
    events.quitting.add_listener(session.on_quitting)
    return session
