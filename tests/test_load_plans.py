"""Load shapes as stage plans: lengths follow the scaler timing, users follow the stages."""

from __future__ import annotations

import pytest

from elsercheck.load.plans import (
    EXPECT_FROM_ZERO,
    EXPECT_SCALE_DOWN,
    EXPECT_SCALE_UP,
    EXPECT_ZERO,
    SHAPES,
    TIMING_PROFILES,
    ScalerTiming,
    build_plan,
    reaction_bound_s,
)

FAST, REALISTIC = TIMING_PROFILES["fast"], TIMING_PROFILES["realistic"]


def test_the_issue_names_are_registered():
    assert {"step", "ramp", "spike", "idle-to-zero"} <= set(SHAPES)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_fast_timing_gives_seconds_and_a_real_cluster_minutes(shape):
    fast = build_plan(shape, FAST, 40).duration_s
    assert 10 <= fast <= 60
    real = build_plan(shape, REALISTIC.with_overrides(scale_to_zero_s=900), 40).duration_s
    assert real >= 5 * 60
    assert real > 8 * fast


@pytest.mark.parametrize(
    ("shape", "expects"),
    [
        ("step", [EXPECT_SCALE_UP, EXPECT_SCALE_DOWN]),
        ("ramp", [EXPECT_SCALE_UP, EXPECT_SCALE_DOWN]),  # down: from the ramp-down
        ("spike", [EXPECT_SCALE_UP, EXPECT_SCALE_DOWN]),
        ("idle-to-zero", [EXPECT_ZERO, EXPECT_FROM_ZERO]),
        ("cycle", [EXPECT_SCALE_UP, EXPECT_SCALE_DOWN, EXPECT_ZERO, EXPECT_FROM_ZERO]),
    ],
)
def test_each_shape_provokes_its_reactions(shape, expects):
    plan = build_plan(shape, FAST, 40)
    assert [stage.expect for stage in plan.stages if stage.expect] == expects


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_reaction_fits_in_its_stage(shape):
    # The expectation checker can only see a reaction the run lasts long enough for.
    for timing in (FAST, REALISTIC.with_overrides(scale_to_zero_s=600)):
        plan = build_plan(shape, timing, 40)
        for start, stage in zip(plan.starts(), plan.stages, strict=True):
            if stage.expect:
                bound = reaction_bound_s(
                    stage.expect, timing, stage.duration_s if stage.ramp else 0
                )
                assert bound <= plan.duration_s - start, stage


def test_step_goes_up_then_down():
    plan = build_plan("step", FAST, 40)
    base, up, down = plan.stages
    assert (base.users, up.users, down.users) == (4, 40, 4)
    assert plan.users_at(0) == 4
    assert plan.users_at(base.duration_s + 0.1) == 40
    assert plan.users_at(plan.duration_s - 0.1) == 4
    assert plan.users_at(plan.duration_s) is None  # the shape stops the run


def test_idle_to_zero_is_silent_past_the_scale_to_zero_time():
    timing = ScalerTiming(tick_s=1, cooldown_s=3, scale_to_zero_s=20, allocation_start_s=1)
    load, idle, reload = build_plan("idle-to-zero", timing, 40).stages
    assert idle.users == 0 and idle.duration_s > timing.scale_to_zero_s
    assert load.users == reload.users == 20


def test_ramp_interpolates():
    plan = build_plan("ramp", FAST, 40)
    ramp = plan.stages[0]
    assert plan.users_at(0) == ramp.users_from == 4
    assert plan.users_at(ramp.duration_s / 2) == 22
    assert plan.users_at(ramp.duration_s - 1e-6) == 40


def test_stage_starts_in_json():
    stages = build_plan("step", FAST, 10).to_json()
    assert [s["start_s"] for s in stages] == [0.0, 4.0, 14.0]
    assert stages[1]["label"] == "up"


def test_bad_names_and_peaks_are_errors():
    with pytest.raises(ValueError, match="unknown load shape 'square'; choose from step"):
        build_plan("square", FAST, 10)
    with pytest.raises(ValueError, match="at least 1"):
        build_plan("step", FAST, 0)
