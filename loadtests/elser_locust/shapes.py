"""The load shape: the stage plan named by ``--shape`` (registry: ``elsercheck.load.plans``)."""

from __future__ import annotations

from locust import LoadTestShape

from .options import Settings, settings_from

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
        self.settings: Settings | None = None

    def tick(self) -> tuple[int, float] | None:
        if self.settings is None:
            try:  # the plan comes from a per-process cache: the session's is the same object
                if self.runner is None:
                    return None
                self.settings = settings_from(self.runner.environment.parsed_options)
            except ValueError:  # bad options: the session has said why and quits the run
                return None
        elapsed = self.get_run_time()
        runner = self.runner
        session = getattr(runner.environment, "elsercheck", None) if runner is not None else None
        if session is not None and session.preparing:
            # test_start is still creating (and seeding) what the run loads: hold the first
            # stage. A change of user count now would make locust kill the greenlet running
            # test_start and fire it again (LocalRunner.start), PUT and all.
            elapsed = 0.0
        users = self.settings.plan.users_at(elapsed)
        stop_after = self.settings.stop_after
        if users is None or (stop_after and elapsed >= stop_after):
            return None
        # The plan counts load users; lifecycle users (fixed_count) come on top, and rest
        # while the plan is silent so that idle really is idle.
        return (users + self.settings.lifecycle_users if users else 0), SPAWN_RATE

    def reset_time(self) -> None:
        super().reset_time()
        self.settings = None  # re-read: the web UI may have changed --shape between runs
