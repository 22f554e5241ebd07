"""Stopping long loops early: a `should_stop` callback checked at batch boundaries.

The long loops of the package (feature extraction, real statistics, scoring) take an optional
`should_stop: () -> bool`. Between two batches they call `check(should_stop)`, which raises `Interrupted` once
it returns True; nothing is written after that (a real statistics cache is saved only once complete), so a
caller that stops a loop this way finds no half-written output. The callback is what a caller's own signal
handling exposes (dvd_gan's training loop passes its StopFlag's); the package installs no signal handler.
"""
from typing import Callable

ShouldStop = Callable[[], bool] | None


class Interrupted(Exception):
  """A `should_stop` callback asked a long loop to stop; the loop's result and output were dropped.

  Not an EvalError: it is no bad input, and its catcher (the caller that asked) decides what follows."""


def check(should_stop: ShouldStop, what: str = "") -> None:
  """Raises `Interrupted` when `should_stop` is given and returns True; `what` names the loop stopped."""
  if should_stop is not None and should_stop():
    raise Interrupted(f"stopped: {what}" if what else "stopped")
