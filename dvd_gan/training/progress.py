"""The training loop's rate and ETA line: steps/s of the training steps alone, and an ETA that counts the
evaluations still to come.

Evaluations during training take seconds to minutes each (one of the demo's: the time of ~80-120 steps).
Counted in the rate, they would make the line after each one show a fraction of the training speed and an
ETA several times too long; left out of the ETA, every other line would promise too early an end.
"""
import time


class Progress:
  """Steps/s since the last `rate_and_eta` (time spent in evaluations left out) and the ETA: the steps left at
  that rate plus the evaluations left at the mean duration of this run's evaluations so far."""

  def __init__(self, clock=time.monotonic):
    self._clock = clock
    self._start, self._steps, self._paused = clock(), 0, 0.0
    self._eval_seconds, self._evals = 0.0, 0

  def stepped(self, n: int) -> None:
    self._steps += n

  def evaluated(self, seconds: float) -> None:
    """Time spent in one evaluation: left out of the rate, counted in the ETA of the evaluations to come."""
    self._paused += seconds
    self._eval_seconds += seconds
    self._evals += 1

  def rate_and_eta(self, steps_left: int, evaluations_left: int) -> tuple:
    """(steps/s since the last call, seconds to the end); starts the next window."""
    now = self._clock()
    rate = self._steps / max(now - self._start - self._paused, 1e-9)
    eval_each = self._eval_seconds / self._evals if self._evals else 0.0
    eta = steps_left / max(rate, 1e-9) + evaluations_left * eval_each
    self._start, self._steps, self._paused = now, 0, 0.0
    return rate, eta
