"""The endpoint vocabulary (``elsercheck.endpoints``): its policy, against a scripted target.

The fake target stores what a PUT processed, like Elasticsearch, and answers from a script:
an answer lost after the request was processed, a 408 that still stored the endpoint, a 409
while a deployment starts. No sleeping: the policy's pauses are recorded instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from elsercheck import endpoints
from elsercheck.endpoints import (
    DELETE_ATTEMPTS,
    DELETE_PAUSE_S,
    ELSER_V2_X86,
    Endpoints,
    HttpxTransport,
    LostAnswer,
    NotAllocated,
    elser_body,
    endpoint_prefix,
    fully_allocated,
    wait_fully_allocated,
)

PREFIX = endpoint_prefix("20261125t120000-ab12")
LOST = "lost after processing"  # the target did the work, the answer never came
DROPPED = "lost before processing"  # the request never reached the target


@dataclass
class Answer:
    status_code: int
    body: Any = None

    def json(self) -> Any:
        return self.body


class FakeTarget:
    """Stores endpoints as Elasticsearch does; ``script(method, ...)`` overrides answers."""

    def __init__(self, *stored: str) -> None:
        self.stored = set(stored)
        self.scripted: dict[str, list[Any]] = defaultdict(list)
        self.calls: list[tuple[str, str]] = []
        self.stats: list[Any] = []  # allocation_status dicts, statuses or LOST, one per poll

    def script(self, method: str, *outcomes: Any) -> None:
        self.scripted[method].extend(outcomes)

    def __call__(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None,
        json: Any = None, timeout: float | None = None,
    ) -> Answer:  # fmt: skip
        self.calls.append((method, path))
        outcome = self.scripted[method].pop(0) if self.scripted[method] else None
        if outcome == DROPPED:
            raise LostAnswer(method, path, ConnectionResetError("reset"))
        inference_id = path.rsplit("/", 1)[-1]
        if path.endswith("/_stats"):
            return self._stats(method, path, inference_id=path.split("/")[3])
        if method == "PUT":
            if isinstance(outcome, int) and outcome >= 400 and outcome != 408:
                return Answer(outcome)  # refused, nothing stored
            self.stored.add(inference_id)
            return self._answer(method, path, outcome, 200)
        if method == "GET" and path == "/_inference/_all":
            listing = {"endpoints": [{"inference_id": i} for i in sorted(self.stored)]}
            return self._answer(method, path, outcome, 200, listing)
        if method == "GET":
            return self._answer(method, path, outcome, 200 if inference_id in self.stored else 404)
        if method == "DELETE":
            if outcome not in (None, LOST):
                return Answer(outcome)  # e.g. 409 while the deployment starts: not deleted
            existed = inference_id in self.stored
            self.stored.discard(inference_id)
            return self._answer(method, path, outcome, 200 if existed else 404)
        raise AssertionError(f"unexpected {method} {path}")

    @staticmethod
    def _answer(method: str, path: str, outcome: Any, status: int, body: Any = None) -> Answer:
        if outcome == LOST:
            raise LostAnswer(method, path, httpx.RemoteProtocolError("peer closed connection"))
        return Answer(outcome if isinstance(outcome, int) else status, body)

    def _stats(self, method: str, path: str, inference_id: str) -> Answer:
        outcome = self.stats.pop(0) if len(self.stats) > 1 else self.stats[0]
        if outcome == LOST:
            raise LostAnswer(method, path, httpx.ReadTimeout("timed out"))
        if isinstance(outcome, int):
            return Answer(outcome)
        entry = {"deployment_stats": {"deployment_id": inference_id, "allocation_status": outcome}}
        return Answer(200, {"count": 1, "trained_model_stats": [entry]})


class Pauses(list[float]):
    """A ``sleep`` that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def target() -> FakeTarget:
    return FakeTarget()


@pytest.fixture
def pauses() -> Pauses:
    return Pauses()


@pytest.fixture
def tracked(target: FakeTarget, pauses: Pauses) -> Endpoints[Answer]:
    return Endpoints(target, PREFIX, sleep=pauses)


# -- naming and models --------------------------------------------------------------------------
def test_run_prefix_names_every_endpoint(tracked: Endpoints[Answer]) -> None:
    assert PREFIX == "elsercheck-20261125t120000-ab12-"
    assert tracked.new_id("live") == PREFIX + "live-1"
    assert tracked.new_id("live") == PREFIX + "live-2"


def test_elser_body_is_the_documented_one() -> None:
    assert ELSER_V2_X86 == ".elser_model_2_linux-x86_64"
    assert elser_body() == {
        "service": "elasticsearch",
        "service_settings": {"model_id": ELSER_V2_X86, "num_allocations": 1, "num_threads": 1},
    }
    assert elser_body(num_threads=2)["service_settings"]["num_threads"] == 2


# -- create -------------------------------------------------------------------------------------
def test_created_endpoint_is_tracked_and_cleaned_up(
    tracked: Endpoints[Answer], target: FakeTarget
) -> None:
    inference_id = tracked.new_id("plain")
    assert tracked.create(inference_id, elser_body()).status_code == 200
    assert tracked.created == {inference_id: "sparse_embedding"}
    assert tracked.cleanup() == [] and not target.stored and not tracked.created


def test_put_answered_408_stored_it_so_it_is_tracked_and_deleted(
    tracked: Endpoints[Answer], target: FakeTarget
) -> None:
    inference_id = tracked.new_id("slow")
    target.script("PUT", 408)
    assert tracked.create(inference_id, elser_body()).status_code == 408
    assert inference_id in target.stored and inference_id in tracked.created
    assert [c[0] for c in target.calls] == ["PUT"]  # 408 means stored: no look-up needed
    assert tracked.cleanup() == [] and not target.stored


def test_lost_answer_after_processing_is_looked_up_tracked_and_raised(
    tracked: Endpoints[Answer], target: FakeTarget
) -> None:
    inference_id = tracked.new_id("lost")
    target.script("PUT", LOST)
    with pytest.raises(LostAnswer, match="RemoteProtocolError"):
        tracked.create(inference_id, elser_body())
    assert ("GET", f"/_inference/{inference_id}") in target.calls
    assert inference_id in tracked.created
    assert tracked.cleanup() == [] and not target.stored


def test_lost_request_that_stored_nothing_is_not_tracked(
    tracked: Endpoints[Answer], target: FakeTarget
) -> None:
    target.script("PUT", DROPPED)
    with pytest.raises(LostAnswer):
        tracked.create(tracked.new_id("dropped"), elser_body())
    assert not tracked.created and not target.stored


def test_lost_answer_and_lookup_that_cannot_tell_is_tracked(
    tracked: Endpoints[Answer], target: FakeTarget
) -> None:
    inference_id = tracked.new_id("unknown")
    target.script("PUT", LOST)
    target.script("GET", LOST, LOST, LOST)
    with pytest.raises(LostAnswer):
        tracked.create(inference_id, elser_body())
    assert [c for c in target.calls if c[0] == "GET"] == [
        ("GET", f"/_inference/{inference_id}")
    ] * 3
    assert inference_id in tracked.created  # cleanup must still try to delete it


@pytest.mark.parametrize(
    ("answers", "expected"),
    [((200,), True), ((404,), False), ((400,), False), ((LOST, 200), True), ((LOST, 503), None),
     ((LOST, LOST, LOST), None)],
)  # fmt: skip
def test_exists_says_when_it_cannot_tell(answers: tuple[Any, ...], expected: bool | None) -> None:
    target = FakeTarget()
    target.script("GET", *answers)
    assert endpoints.exists(target, PREFIX + "x") is expected


def test_refused_put_is_not_tracked_unless_stored_anyway(
    tracked: Endpoints[Answer], target: FakeTarget
) -> None:
    refused = tracked.new_id("refused")
    target.script("PUT", 400)
    assert tracked.create(refused, elser_body(num_threads=3)).status_code == 400
    assert refused not in tracked.created
    # A non-conformant target that stores what it refused: found by the look-up, tracked.
    stored_anyway = tracked.new_id("refused")
    target.stored.add(stored_anyway)
    target.script("PUT", 400)
    assert tracked.create(stored_anyway, elser_body()).status_code == 400
    assert stored_anyway in tracked.created


def test_only_ids_under_the_run_prefix_are_touched(
    tracked: Endpoints[Answer], target: FakeTarget
) -> None:
    for call in (
        lambda: tracked.create("customer-elser", elser_body()),
        lambda: tracked.delete("customer-elser"),
        lambda: tracked.remove("customer-elser"),
    ):
        with pytest.raises(ValueError, match="lacks the run prefix"):
            call()
    assert target.calls == []


# -- delete ---------------------------------------------------------------------------------------
def test_delete_waits_out_409_while_a_deployment_starts(
    tracked: Endpoints[Answer], target: FakeTarget, pauses: Pauses
) -> None:
    inference_id = tracked.new_id("starting")
    tracked.create(inference_id, elser_body())
    target.script("DELETE", 409, 409)
    assert tracked.remove(inference_id) is True
    assert pauses == [DELETE_PAUSE_S, DELETE_PAUSE_S]
    assert not target.stored and not tracked.created


def test_delete_409_wait_is_bounded_and_reported(
    tracked: Endpoints[Answer], target: FakeTarget, pauses: Pauses
) -> None:
    inference_id = tracked.new_id("stuck")
    tracked.create(inference_id, elser_body())
    target.script("DELETE", *[409] * (DELETE_ATTEMPTS + 5))
    assert tracked.cleanup() == [inference_id]
    deletes = [c for c in target.calls if c[0] == "DELETE"]
    assert len(deletes) == DELETE_ATTEMPTS and len(pauses) == DELETE_ATTEMPTS - 1
    assert inference_id in target.stored and inference_id in tracked.created


def test_delete_asks_again_when_answers_are_lost(
    tracked: Endpoints[Answer], target: FakeTarget
) -> None:
    inference_id = tracked.new_id("flaky")
    tracked.create(inference_id, elser_body())
    target.script("DELETE", DROPPED, LOST)  # the second one deleted it: the third answers 404
    assert tracked.remove(inference_id) is True
    assert [c[0] for c in target.calls].count("DELETE") == 3
    assert not target.stored and not tracked.created


def test_other_delete_answers_are_final(tracked: Endpoints[Answer], target: FakeTarget) -> None:
    inference_id = tracked.new_id("forbidden")
    tracked.create(inference_id, elser_body())
    target.script("DELETE", 403)
    assert tracked.remove(inference_id) is False
    assert [c[0] for c in target.calls].count("DELETE") == 1
    assert inference_id in tracked.created


def test_single_delete_returns_the_answer_for_checks(
    tracked: Endpoints[Answer], target: FakeTarget
) -> None:
    inference_id = tracked.new_id("checked")
    tracked.create(inference_id, elser_body())
    target.script("DELETE", 409)
    assert tracked.delete(inference_id).status_code == 409  # not retried: the check sees it
    assert inference_id in tracked.created
    assert tracked.delete(inference_id).status_code == 200 and not tracked.created


def test_delete_function_gives_the_last_status(target: FakeTarget, pauses: Pauses) -> None:
    target.script("DELETE", *[DROPPED] * 3)
    assert endpoints.delete(target, "x", attempts=3, sleep=pauses) is None
    assert endpoints.delete(target, "x", attempts=3, sleep=pauses) == 404


# -- cleanup sweeps the run prefix ------------------------------------------------------------
def test_cleanup_sweeps_the_run_prefix_and_nothing_else(target: FakeTarget) -> None:
    other_run = endpoint_prefix("20261125t110000-cd34") + "load"
    target.stored |= {"customer-elser", other_run, PREFIX + "load", PREFIX + "lc-7"}
    tracked = Endpoints(target, PREFIX, sleep=Pauses())
    assert tracked.cleanup() == []  # nothing tracked, no sweep: nothing deleted
    assert len(target.stored) == 4
    assert tracked.cleanup(sweep=True) == []
    assert target.stored == {"customer-elser", other_run}


def test_sweep_survives_a_lost_listing(target: FakeTarget) -> None:
    target.stored.add(PREFIX + "load")
    target.script("GET", LOST)
    assert Endpoints(target, PREFIX, sleep=Pauses()).cleanup(sweep=True) == []
    assert not target.stored


# -- fully allocated ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"state": "fully_allocated", "allocation_count": 1, "target_allocation_count": 1}, True),
        ({"state": "fully_allocated", "allocation_count": 2, "target_allocation_count": 2}, True),
        # The contradiction: the state says fully allocated, the counts say otherwise.
        ({"state": "fully_allocated", "allocation_count": 1, "target_allocation_count": 2}, False),
        ({"state": "started", "allocation_count": 1, "target_allocation_count": 2}, False),
        ({"state": "started", "allocation_count": 2, "target_allocation_count": 2}, False),
        ({"state": "starting", "allocation_count": 0, "target_allocation_count": 1}, False),
        ({"state": "fully_allocated"}, False),
        ({}, False),
        (None, False),
    ],
)
def test_fully_allocated_is_the_seeds_rule(status: dict[str, Any] | None, expected: bool) -> None:
    assert fully_allocated(status) is expected


def _status(state: str, count: int, target_count: int) -> dict[str, Any]:
    return {"state": state, "allocation_count": count, "target_allocation_count": target_count}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_polls_through_lost_answers_and_the_contradiction(target: FakeTarget) -> None:
    target.stats = [
        404,  # not there yet
        LOST,
        _status("starting", 0, 2),
        _status("fully_allocated", 1, 2),  # contradiction: keep waiting
        _status("fully_allocated", 2, 2),
    ]
    clock = Clock()
    stats = wait_fully_allocated(target, "d", 10, sleep=clock.sleep, clock=clock)
    assert stats["allocation_status"] == _status("fully_allocated", 2, 2)
    assert clock.now == pytest.approx(4 * 0.2)


def test_wait_gives_up_in_time_with_the_last_status(target: FakeTarget) -> None:
    target.stats = [_status("fully_allocated", 1, 2)]
    clock = Clock()
    with pytest.raises(NotAllocated, match="not fully allocated after 3s") as raised:
        wait_fully_allocated(target, "d", 3, sleep=clock.sleep, clock=clock)
    assert raised.value.last == _status("fully_allocated", 1, 2)
    assert 3 <= clock.now < 3.5


def test_wait_stops_at_once_when_stats_are_refused(target: FakeTarget) -> None:
    target.stats = [403]
    clock = Clock()
    with pytest.raises(NotAllocated, match="HTTP 403"):
        wait_fully_allocated(target, "d", 60, sleep=clock.sleep, clock=clock)
    assert clock.now == 0


# -- the httpx transport ------------------------------------------------------------------------
def test_httpx_transport_turns_transport_errors_into_lost_answers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "PUT":
            raise httpx.RemoteProtocolError("peer closed connection", request=request)
        return httpx.Response(200, json={"endpoints": []})

    with httpx.Client(base_url="http://x", transport=httpx.MockTransport(handler)) as client:
        transport = HttpxTransport(client)
        with pytest.raises(LostAnswer, match="PUT /_inference/sparse_embedding/a") as raised:
            transport("PUT", "/_inference/sparse_embedding/a", json={"service": "x"})
        assert isinstance(raised.value.cause, httpx.RemoteProtocolError)
        answer = transport("DELETE", "/_inference/a", params={"force": "true"})
    assert answer.status_code == 200
    assert str(seen[-1].url) == "http://x/_inference/a?force=true"
    assert seen[-1].extensions["timeout"]["read"] == 5.0  # the client's default, not None
