"""The timing profiles moved to :mod:`elsercheck.timing` (shared by the server and the load
plans, so they live outside the server package); this name stays so that code written against
it keeps working."""

from ..timing import (
    FAST_CLUSTER_SETTINGS,
    FAST_SPEEDUP,
    FRACTIONS,
    LAPSE_FACTORS,
    NOT_ZERO,
    PRESETS,
    UNSCALED,
    Timing,
    TimingError,
    lapse_name,
    preset,
    setting_problem,
)

__all__ = [
    "FAST_CLUSTER_SETTINGS",
    "FAST_SPEEDUP",
    "FRACTIONS",
    "LAPSE_FACTORS",
    "NOT_ZERO",
    "PRESETS",
    "UNSCALED",
    "Timing",
    "TimingError",
    "lapse_name",
    "preset",
    "setting_problem",
]
