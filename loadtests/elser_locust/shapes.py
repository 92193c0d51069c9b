"""The load shape: the stage plan named by ``--shape`` (registry: ``elsercheck.load.plans``)."""

from __future__ import annotations

from locust import LoadTestShape

from elsercheck.load.plans import Plan

# Users per second: all at once in practice, and locust warns only above 100.
SPAWN_RATE = 100.0


class NamedShape(LoadTestShape):
    """Follows the plan of ``--shape`` (step, ramp, spike, idle-to-zero), then stops the run.

    Users start (and stop) at once: an ELSER client population does not trickle in, and a slow
    spawn would blur the moment the load rises that the expectations measure from.
    """

    use_common_options = False

    def __init__(self) -> None:
        super().__init__()
        self.plan: Plan | None = None

    def tick(self) -> tuple[int, float] | None:
        session = getattr(self.runner.environment, "elsercheck", None)
        if self.plan is None:
            if session is None or session.plan is None:
                return None
            self.plan = session.plan
        elapsed = self.get_run_time()
        users = self.plan.users_at(elapsed)
        stop_after = session.settings.stop_after if session is not None else 0.0
        if users is None or (stop_after and elapsed >= stop_after):
            return None
        # The plan counts load users; lifecycle users (fixed_count) come on top, and rest
        # while the plan is silent so that idle really is idle.
        lifecycle = session.settings.lifecycle_users if session is not None else 0
        return (users + lifecycle if users else 0), SPAWN_RATE

    def reset_time(self) -> None:
        super().reset_time()
        self.plan = None  # re-read: the web UI may have changed --shape between runs
