"""The loop's rate and ETA (dvd_gan.training.progress.Progress) on a scripted clock."""
import pytest

from dvd_gan.training.progress import Progress


class _Clock:
  def __init__(self):
    self.now = 100.0

  def __call__(self):
    return self.now


def test_the_rate_leaves_evaluations_out_and_the_eta_counts_those_to_come():
  """50 steps in 10 s of training plus a 30 s evaluation: 5 steps/s (not 1.25); with 100 steps and 2
  evaluations left, the ETA is 100 / 5 + 2 * 30 s."""
  clock = _Clock()
  progress = Progress(clock)
  clock.now += 10.0
  progress.stepped(50)
  clock.now += 30.0
  progress.evaluated(30.0)
  rate, eta = progress.rate_and_eta(steps_left=100, evaluations_left=2)
  assert rate == pytest.approx(5.0) and eta == pytest.approx(20.0 + 60.0)


def test_each_call_starts_a_new_window_and_evaluations_average_over_the_run():
  """The second window's rate is its own (20 steps in 2 s); the ETA uses the mean of both evaluations."""
  clock = _Clock()
  progress = Progress(clock)
  clock.now += 30.0
  progress.evaluated(30.0)  # an evaluation at the first step (a resumed run), no training yet
  progress.rate_and_eta(steps_left=100, evaluations_left=1)
  clock.now += 2.0 + 10.0
  progress.stepped(20)
  progress.evaluated(10.0)
  rate, eta = progress.rate_and_eta(steps_left=50, evaluations_left=1)
  assert rate == pytest.approx(10.0) and eta == pytest.approx(5.0 + 20.0)
