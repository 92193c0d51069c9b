"""The peers of the load-generator benchmark: bare locust FastHttpUsers, closed loop.

Each user posts as fast as the answers come back (``wait_time`` 0): the most a plain locust
process gets out of one core. The path comes from ``BENCH_INFERENCE_ID``.

- ``BareUser`` (default): one fixed small sparse-embedding request.
- ``BareUser`` with ``BENCH_SAME_INPUTS=1``: the request bodies our InferenceUser sends (the
  bundled corpus, the default input mix and batch share, drawn once and cycled,
  pre-serialised): the same payloads and answers to carry, none of the open loop, result
  check or recording. The difference to ours is the generator's own work.

    BENCH_INFERENCE_ID=x locust -f bench/locust_bare.py --headless -u 20 -r 20 --host URL
"""

import itertools
import os

import orjson
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

PATH = f"/_inference/sparse_embedding/{os.environ.get('BENCH_INFERENCE_ID', 'bench-load')}"
HEADERS = {"Content-Type": "application/json"}
BODY = orjson.dumps({"input": "what is ELSER and how does sparse retrieval work?"})
SAME_INPUTS = os.environ.get("BENCH_SAME_INPUTS") == "1"
SAMPLES = 5_000  # cycled: enough for the mix's shares to hold


def _bodies() -> list[bytes]:
    if not SAME_INPUTS:
        return [BODY]
    from elsercheck.load.corpus import Corpus, Sampler

    samples = itertools.islice(Sampler(Corpus.load(), seed=0), SAMPLES)
    return [
        orjson.dumps({"input": s.inputs[0] if len(s.inputs) == 1 else s.inputs}) for s in samples
    ]


BODIES = _bodies()


class BareUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.bodies = itertools.cycle(BODIES)

    @task
    def infer(self) -> None:
        self.client.post(PATH, data=next(self.bodies), headers=HEADERS)  # type: ignore[arg-type]  # bytes are sent as they are
