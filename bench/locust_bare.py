"""The peer of the load-generator benchmark: a bare locust FastHttpUser, closed loop.

Each user posts the same small sparse-embedding request as fast as the answers come back
(``wait_time`` 0): the most a plain locust process gets out of one core. The path comes from
``BENCH_INFERENCE_ID``.

    BENCH_INFERENCE_ID=x locust -f bench/locust_bare.py --headless -u 20 -r 20 --host URL
"""

import os

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

PATH = f"/_inference/sparse_embedding/{os.environ.get('BENCH_INFERENCE_ID', 'bench-load')}"
BODY = {"input": "what is ELSER and how does sparse retrieval work?"}


class BareUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def infer(self) -> None:
        self.client.post(PATH, json=BODY)
