"""One-dimensional Kalman filter used by the adaptive allocations scaler (ES KalmanFilter1d).

A port of Elasticsearch's ``KalmanFilter1d``: it estimates the mean of a noisy series and the
standard error of that estimate. Instead of a real dynamics model, the process noise is a fixed
fraction (``1 / smoothing_factor``) of the measurement noise, so roughly the last
``smoothing_factor`` measurements influence the estimate. When the underlying value has probably
jumped (a "dynamics change"), a large process noise is injected so the estimate follows at once.

Arithmetic follows Java ``double`` semantics where Python would raise instead: ``x / 0`` is
``±inf`` (or ``nan`` for ``0 / 0``). Like the Java original, a filter whose state becomes ``nan``
reports ``has_value == False`` and is re-initialised by the next measurement.
"""

from __future__ import annotations

import math
import sys

# Squared distance (in units of combined variance) beyond which a measurement is taken as a
# change in the underlying dynamics, i.e. the prediction is 10 standard deviations off.
DYNAMICS_CHANGE_THRESHOLD = 100.0

# Elasticsearch marks "no value yet" with Double.MAX_VALUE; keeping the same sentinel keeps
# has_value's behaviour identical, including for nan (nan < MAX is false).
_NO_VALUE = sys.float_info.max


def java_div(numerator: float, denominator: float) -> float:
    """Divide like a Java ``double``: ``x / 0`` gives ``±inf`` and ``0 / 0`` gives ``nan``."""
    if denominator == 0.0:
        if numerator == 0.0 or math.isnan(numerator):
            return math.nan
        return math.copysign(math.inf, numerator) * math.copysign(1.0, denominator)
    return numerator / denominator


class KalmanFilter1d:
    """Estimator for the mean value and standard error of a series of measurements."""

    def __init__(self, name: str, smoothing_factor: float, auto_detect_changes: bool) -> None:
        """Create an empty filter.

        ``smoothing_factor`` is roughly how many recent measurements shape the estimate;
        ``auto_detect_changes`` turns on detection of sudden jumps (see :meth:`add`).
        """
        self.name = name
        self.smoothing_factor = float(smoothing_factor)
        self.auto_detect_changes = auto_detect_changes
        self._value = _NO_VALUE
        self._variance = _NO_VALUE
        self._changed_last_time = False

    def add(self, value: float, variance: float, dynamics_changed: bool = False) -> None:
        """Add a measurement ``value`` whose variance is ``variance``.

        ``dynamics_changed`` tells the filter that the measured quantity probably changed
        before this measurement (e.g. the allocation count changed), so the estimate should
        jump towards ``value`` rather than be smoothed.
        """
        if not self.has_value:
            # The first measurement is taken as is, and counts as a change so that the next
            # measurement also gets the extra process noise (the estimate is still raw).
            changed = True
            self._value = float(value)
            self._variance = float(variance)
        else:
            process_variance = java_div(variance, self.smoothing_factor)
            changed = dynamics_changed or self._detect_change(value, variance)
            if changed or self._changed_last_time:
                # A likely jump: inject noise of the size of the value itself so the estimate
                # follows the new measurement almost completely. Keeping it one more step lets
                # the estimate settle after the jump.
                process_variance = value * value
            predicted_variance = self._variance + process_variance
            gain = java_div(predicted_variance, predicted_variance + variance)
            self._value += gain * (value - self._value)
            self._variance = (1.0 - gain) * predicted_variance
        self._changed_last_time = changed

    def _detect_change(self, value: float, variance: float) -> bool:
        """True if ``value`` is implausibly far (>10 std. dev.) from the current estimate."""
        if not self.auto_detect_changes:
            return False
        distance = value - self._value
        return java_div(distance * distance, variance + self._variance) > DYNAMICS_CHANGE_THRESHOLD

    @property
    def has_value(self) -> bool:
        """Whether the filter has received data and holds an estimate."""
        return self._value < _NO_VALUE and self._variance < _NO_VALUE

    @property
    def estimate(self) -> float:
        """The estimated mean value (``nan`` if there is no estimate yet)."""
        return self._value if self.has_value else math.nan

    @property
    def variance(self) -> float:
        """The variance of the estimate (``nan`` if there is no estimate yet)."""
        return self._variance if self.has_value else math.nan

    @property
    def error(self) -> float:
        """The standard error of the estimate (square root of :attr:`variance`)."""
        variance = self.variance
        # Java's Math.sqrt gives nan for a negative argument where Python's raises.
        return math.sqrt(variance) if variance >= 0.0 else math.nan

    @property
    def lower(self) -> float:
        """Lower bound of the one-standard-deviation interval around the estimate."""
        return self.estimate - self.error

    @property
    def upper(self) -> float:
        """Upper bound of the one-standard-deviation interval around the estimate."""
        return self.estimate + self.error

    def __repr__(self) -> str:
        return (
            f"KalmanFilter1d({self.name!r}, estimate={self.estimate!r}, "
            f"variance={self.variance!r}, changed_last_time={self._changed_last_time})"
        )
