"""Scale that fits the machine: how much simulation this machine serves, and the time-lapse
that keeps a run within it.

The embedded reference server keeps modelled time on one event loop (one core: Python's GIL).
Its cost is CPU per *deployment request* (every input of an inference, every chunk of a bulk
is one: ES taskOperation, task.infer per input) plus the HTTP request around it. A deployment
of N allocations at capacity completes N / E[service time] deployment requests per cluster
second; on a time-lapse by F that is F times as many per wall second. Past what the loop
serves, the server falls behind (loop_lag.py measures it) and capacities come out low.

The **ceiling** is measured, not assumed: a quick calibration (:func:`calibrate`) runs the
embedded server with zero service time on a loopback port, a client in a child process sends
each workload's requests (the default inference mix, semantic searches, bulks), and this
process's CPU time per deployment request is its cost: a search or a bulk costs more around
each deployment request than an inference. The ceiling is :data:`UTILISATION` of one core
divided by that cost. It is cached per machine, Python and elsercheck version
(:func:`ceiling`), so only the first run pays (a few seconds).

:func:`choose` picks the fastest profile of the ladder (``fast`` = 10, then
``elsercheck.timing.LAPSE_FACTORS``) whose demand fits, or refuses with the numbers.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .paths import cache_dir
from .timing import FAST_SPEEDUP, LAPSE_FACTORS, lapse_name

# The share of one core the server may spend on a run's requests. Above about half, requests
# queue on the event loop itself: wake-ups come late and the scaler's ticks drift (the loop's
# lag grows superlinearly with its utilisation, as any single-server queue's waiting time).
UTILISATION = 0.5
# A capacity sweep offers rates past the knee (sweep.py: x1.5 per point before bisecting).
SWEEP_HEADROOM = 1.5
CACHE_NAME = "sim-ceiling.json"
CACHE_FORMAT = 2  # per-workload costs
ENDPOINT = "elsercheck-calibration"

# The calibration's client: sequential keep-alive requests from a file of bodies. A child
# process, so that the CPU it spends is not counted as the server's; credentials come in the
# environment (never argv).
_CLIENT = """
import base64, http.client, json, os, sys
host, port, requests = sys.argv[1], int(sys.argv[2]), sys.argv[3]
auth = "Basic " + base64.b64encode(os.environ["CALIBRATION_AUTH"].encode()).decode()
connection = http.client.HTTPConnection(host, port, timeout=60)
failed = 0
for line in open(requests, encoding="utf-8"):
    request = json.loads(line)
    headers = {"Content-Type": request["type"], "Authorization": auth}
    connection.request(request["method"], request["path"], body=request["body"].encode(),
                       headers=headers)
    answer = connection.getresponse()
    text = answer.read()
    failed += answer.status != 200 or b'"errors":true' in text
sys.exit(1 if failed else 0)
"""


class ScaleError(ValueError):
    """A run this machine cannot simulate faithfully at any time-lapse (the message has the
    numbers)."""


class CalibrationError(ScaleError):
    """The ceiling could not be measured (not the run's fault: the caller may go on)."""


@dataclass(frozen=True)
class Ceiling:
    """What this machine's embedded server costs per deployment request, measured per
    workload (its share of the HTTP request around it: an inference's inputs share one
    request, a search is one, a bulk's chunks share one with its indexing)."""

    cpu_s_per_job: dict[str, float]  # workload -> server CPU seconds per deployment request
    measured_at: str = ""

    def jobs_per_s(self, workload: str = "inference") -> float:
        """Deployment requests per wall second the server serves faithfully."""
        return UTILISATION / self.cpu_s_per_job[workload]


@dataclass(frozen=True)
class Choice:
    """The time-lapse chosen for a run, with the numbers behind it."""

    profile: str  # an elsercheck.timing profile name
    factor: float
    demand_jobs_per_s: float  # deployment requests per wall second the run asks at that factor
    ceiling_jobs_per_s: float

    def describe(self) -> str:
        """One line: the profile and why (and, in slow motion, what it costs in wall time)."""
        slow = (
            f"; slow motion: each cluster second takes {1 / self.factor:g} wall seconds"
            if self.factor < 1
            else ""
        )
        return (
            f"timing {self.profile} (time-lapse ×{self.factor:g}): the run asks up to "
            f"{self.demand_jobs_per_s:.0f} deployment requests per wall second, this machine "
            f"serves {self.ceiling_jobs_per_s:.0f} faithfully{slow}"
        )


# The refusal's words, which the capacity bench looks for in a refused sweep's log.
BEYOND_SLOWEST = "even at the slowest time-lapse"


def choose(demand_per_cluster_s: float, ceiling: Ceiling, workload: str = "inference") -> Choice:
    """The fastest time-lapse whose wall rate of deployment requests stays within the ceiling
    of ``workload``; :class:`ScaleError` with the numbers when even the slowest (slow motion,
    ``min(LAPSE_FACTORS)``) does not fit."""
    limit = ceiling.jobs_per_s(workload)
    ladder = (FAST_SPEEDUP, *sorted(LAPSE_FACTORS, reverse=True))
    for factor in ladder:
        if demand_per_cluster_s * factor <= limit:
            return Choice(lapse_name(factor), factor, demand_per_cluster_s * factor, limit)
    slowest = ladder[-1]
    raise ScaleError(
        f"the run asks for {demand_per_cluster_s:.0f} deployment requests per cluster second "
        f"(allocations × their capacity, with headroom) and this machine's embedded server "
        f"serves {limit:.0f} per wall second faithfully "
        f"({ceiling.cpu_s_per_job[workload] * 1000:.2f} ms of CPU each for {workload}, at most "
        f"{UTILISATION:.0%} of one core), {BEYOND_SLOWEST}, "
        f"{lapse_name(slowest)} (×{slowest:g}: {1 / slowest:g} wall seconds per cluster "
        "second): model fewer allocations, or measure a real cluster (--url)"
    )


# -- the ceiling, measured and cached --------------------------------------------------------------
def cache_path() -> Path:
    """Where the measured ceiling is kept (elsercheck's cache directory)."""
    return cache_dir() / CACHE_NAME


def machine_key() -> str:
    """What the ceiling depends on: this machine, its Python and elsercheck's version."""
    return "|".join(
        (platform.node(), platform.machine(), str(os.cpu_count()), platform.python_version(),
         __version__, str(CACHE_FORMAT))
    )  # fmt: skip


def ceiling(path: Path | None = None, measure: bool = True) -> Ceiling:
    """This machine's ceiling: cached when measured before here, else :func:`calibrate` (and
    cache it). ``measure`` False: :class:`ScaleError` instead of calibrating."""
    path = path or cache_path()
    key = machine_key()
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return Ceiling(**cached["ceiling"])
    except (OSError, ValueError, TypeError, KeyError):
        pass  # none yet, or from another machine/version, or unreadable: measure again
    if not measure:
        raise ScaleError(f"no ceiling measured on this machine yet ({path})")
    try:
        measured = calibrate()
    except CalibrationError:
        raise
    except Exception as exc:  # e.g. no loopback port: the run may still go on, unchecked
        raise CalibrationError(
            f"could not measure this machine's ceiling ({type(exc).__name__}: {exc})"
        ) from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"key": key, "ceiling": asdict(measured)}), encoding="utf-8")
    except OSError:
        pass  # a read-only home: measure again next time
    return measured


WORKLOADS = ("inference", "search", "ingest")
CALIBRATION_UNITS = {"inference": 400, "search": 150, "ingest": 30}
CALIBRATION_INDEX = "elsercheck-calibration-docs"
SEED_DOCUMENTS = 20  # as a search run seeds its index


def calibrate() -> Ceiling:
    """Measure the embedded server's CPU per deployment request of each workload with zero
    service time (``instant`` timing), a client in a child process (see the module): the
    default inference mix, semantic searches of the query bucket on an index of
    :data:`SEED_DOCUMENTS` corpus documents, bulks of ten documents."""
    from .reference.config import ServerConfig
    from .reference.serve import EmbeddedServer
    from .target import Target
    from .timing import PRESETS

    password = secrets.token_urlsafe(12)
    config = ServerConfig(password=password, timing=PRESETS["instant"])
    costs: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="elsercheck-calibration-") as scratch,
        EmbeddedServer(config) as server,
    ):
        target = Target(server.url, username="elastic", password=password)
        with target.client(timeout=60) as client:
            _prepare(client)
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        for workload in WORKLOADS:
            requests, jobs = _requests(workload, CALIBRATION_UNITS[workload])
            path = Path(scratch) / f"{workload}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in requests), "utf-8")
            costs[workload] = _serve_cpu_s(host, port, path, password) / jobs
    return Ceiling(costs, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def _prepare(client: Any) -> None:
    """The calibration's endpoint and its search index, seeded."""
    from .load import documents, workloads

    settings = {"model_id": ".elser_model_2_linux-x86_64", "num_allocations": 1,
                "num_threads": 1}  # fmt: skip
    steps = [
        ("PUT", f"/_inference/sparse_embedding/{ENDPOINT}",
         {"service": "elasticsearch", "service_settings": settings}),
        ("PUT", f"/{CALIBRATION_INDEX}", workloads.index_body(ENDPOINT)),
    ]  # fmt: skip
    for method, path, body in steps:
        answer = client.request(method, path, json=body)
        if answer.status_code != 200:
            raise CalibrationError(f"calibration: {method} {path} answered {answer.status_code}")
    seed = _bulk(documents.load(None)[:SEED_DOCUMENTS])
    answer = client.post(f"/{CALIBRATION_INDEX}/_bulk?refresh=true", content=seed,
                         headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
    if answer.status_code != 200 or answer.json().get("errors"):
        raise CalibrationError("calibration: the search index could not be seeded")


def _bulk(docs: Any) -> str:
    from .load.workloads import SEMANTIC_FIELD

    return "".join(
        '{"index":{}}\n' + json.dumps({SEMANTIC_FIELD: d.text, "doc": d.id}) + "\n" for d in docs
    )


def _requests(workload: str, units: int) -> tuple[list[dict[str, str]], int]:
    """The calibration's requests of ``workload`` and how many deployment requests they make."""
    import random

    from .load import documents
    from .load.corpus import Corpus, Sampler
    from .load.workloads import search_body

    if workload == "search":
        queries = Corpus.load(None).bucket("query")
        rng = random.Random(0)
        bodies = [json.dumps(search_body("semantic", rng.choice(queries).text))
                  for _ in range(units)]  # fmt: skip
        path = f"/{CALIBRATION_INDEX}/_search"
        return [{"method": "POST", "path": path, "type": "application/json", "body": b}
                for b in bodies], units  # fmt: skip
    if workload == "ingest":
        docs = documents.load(None)
        rng = random.Random(0)
        bulks = [rng.choices(docs, k=10) for _ in range(units)]
        path = f"/{CALIBRATION_INDEX}/_bulk"
        chunks = sum(d.chunks for b in bulks for d in b)
        return [{"method": "POST", "path": path, "type": "application/x-ndjson",
                 "body": _bulk(b)} for b in bulks], chunks  # fmt: skip
    sampler = Sampler(Corpus.load(None), seed=0)
    samples = [sampler.next() for _ in range(units)]
    path = f"/_inference/sparse_embedding/{ENDPOINT}"
    return [{"method": "POST", "path": path, "type": "application/json",
             "body": json.dumps({"input": s.inputs})} for s in samples], sum(
        len(s.inputs) for s in samples)  # fmt: skip


def _serve_cpu_s(host: str, port: str, requests: Path, password: str) -> float:
    """This process's CPU seconds (the embedded server's: the client is a child) to serve the
    requests of the file, one at a time."""
    env = {**os.environ, "CALIBRATION_AUTH": f"elastic:{password}"}
    cpu = time.process_time()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CLIENT, host, port, str(requests)],
            env=env, capture_output=True, timeout=300, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CalibrationError(f"calibration: the client did not finish ({exc})") from None
    cpu = time.process_time() - cpu
    if done.returncode != 0:
        raise CalibrationError(
            f"calibration: the embedded server failed some of its {requests.stem} requests"
        )
    return cpu


def choose_for(demands: dict[str, float], ceiling: Ceiling) -> Choice:
    """:func:`choose` for a run's deployment requests per cluster second, by workload: one
    workload against its own ceiling; several (a ``mixed`` load) each counted at its own CPU
    cost, in inference requests' worth, against the inference ceiling."""
    if len(demands) == 1:
        ((workload, jobs),) = demands.items()
        return choose(jobs, ceiling, workload)
    inference = ceiling.cpu_s_per_job["inference"]
    worth = sum(jobs * ceiling.cpu_s_per_job[w] / inference for w, jobs in demands.items())
    return choose(worth, ceiling, "inference")


def jobs_per_unit(
    workload: str, mix: str, batch_share: float, corpus: str = "", bulk_size: int = 10
) -> float:
    """Deployment requests of one unit of ``workload``: the mean inputs of an inference
    request of the mix, one per search, the expected chunks of a bulk."""
    from .capacity import model
    from .load.corpus import Corpus, Sampler, parse_mix

    if workload == "ingest":
        return model.chunks_per_bulk(corpus, bulk_size)
    if workload == "search":
        return 1.0
    sampler = Sampler(Corpus.load(corpus or None), parse_mix(mix), batch_share=batch_share,
                      seed=0)  # fmt: skip
    return sum(len(sampler.next().inputs) for _ in range(2000)) / 2000


def load_demand(values: Any) -> dict[str, float]:
    """Deployment requests per cluster second a load run (its options' ``values``) asks at its
    peak, by workload: the peak users, split equally between the workload's user classes as
    locust splits them, at their rate per user (the ingest users' bulk rate), in deployment
    requests (:func:`jobs_per_unit`). On the ML node each is capped at what
    ``--max-allocations`` complete with the sweep's headroom: what an overload sends beyond
    that is queued or refused, not computed (an EIS endpoint has no allocations: uncapped)."""
    from .capacity import model
    from .load.workloads import USER_CLASSES, bulk_rate_per_user
    from .timing import PRESETS

    classes = USER_CLASSES[values["workload"]]
    users = values["peak_users"] / len(classes)
    timing = PRESETS["fast"]  # cluster figures: the same at every time-lapse of that cluster
    corpus = values.get("corpus") or ""
    demands: dict[str, float] = {}
    for name, part in (("inference", "InferenceUser"), ("search", "SearchUser"),
                       ("ingest", "IngestUser")):  # fmt: skip
        if part not in classes:
            continue
        rate = bulk_rate_per_user(values) if name == "ingest" else values["rate_per_user"]
        units = users * rate
        if values.get("service") != "elastic":
            served = values["max_allocations"] * model.capacity_per_allocation(
                timing, values["mix"], values["batch_share"], values["num_threads"],
                values["model_id"], corpus, workload=name, bulk_size=values["bulk_size"],
            )  # fmt: skip
            units = min(units, served * SWEEP_HEADROOM)
        demands[name] = units * jobs_per_unit(
            name, values["mix"], values["batch_share"], corpus, values["bulk_size"]
        )
    return demands


def sweep_demand(
    workload: str, allocations: int, threads: int, mix: str, batch_share: float,
    model_id: str, corpus: str = "", bulk_size: int = 10,
) -> float:  # fmt: skip
    """Deployment requests per cluster second a capacity sweep of ``allocations`` allocations
    asks at its highest offered rates (capacity/model.py's capacity, in deployment requests:
    the inputs of an inference, one per search, the chunks of a bulk; times the headroom)."""
    from .capacity import model
    from .timing import PRESETS

    timing = PRESETS["fast"]  # cluster figures: the same at every time-lapse of that cluster
    per_unit = model.capacity_per_allocation(
        timing, mix, batch_share, threads, model_id, corpus, workload=workload,
        bulk_size=bulk_size,
    )  # fmt: skip
    jobs = jobs_per_unit(workload, mix, batch_share, corpus, bulk_size)
    return allocations * per_unit * jobs * SWEEP_HEADROOM
