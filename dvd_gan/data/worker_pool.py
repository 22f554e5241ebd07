"""A function mapped over items in spawned worker processes, surviving a worker that crashes or hangs.

`imap_ordered(fn, items, workers=..., timeout_s=..., on_failure=...)` yields `fn(item)` for every item, in
the items' order. A decoder that kills its process (a segfault in FFmpeg, `os._exit`) or never returns must
cost one item, not the whole build:

- A crash breaks the whole `ProcessPoolExecutor`, and the pool cannot tell which of the items in flight did
  it. Every item in flight is retried once, ALONE in a new pool (so a second crash names its culprit); an
  item that crashes on that retry gives `on_failure(item, message)`. The others go on normally.
- An item still running `timeout_s` seconds after it was handed to an idle worker gives
  `on_failure(item, message)` at once (no retry: a hang would cost the limit again); the pool is killed
  (a running task cannot be stopped otherwise) and the other items in flight are resubmitted to a new pool.
- Workers are started and waited for before any item is timed (`_ready`: spawning a process and importing
  the function's module can take seconds), so the limit measures the item alone.

Workers are spawned (no forked TensorFlow state), so they re-import the main module. A script that starts a
pool at its top level without `if __name__ == "__main__":` would make every worker start a pool of its own;
`exit_if_reimported_main` ends such a worker quietly with MAIN_NOT_GUARDED_EXIT, and the parent raises ONE
UserError saying what to add.
"""
import collections
import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from typing import Callable, Iterator, Sequence

from dvd_gan.errors import UserError

MAIN_NOT_GUARDED_EXIT = 87
STARTUP_TIMEOUT_S = 600.0  # spawning and importing TensorFlow in every worker, on a loaded machine
MAIN_GUARD_MESSAGE = (
    "the worker processes re-ran the script that started them: put the call that builds the dataset (e.g. "
    "download_and_prepare) under `if __name__ == \"__main__\":` (workers are spawned and re-import the main "
    "module), or pass num_workers=1")

_barrier = None  # in a worker: the barrier every worker reaches once started (`_ready`)


def exit_if_reimported_main() -> None:
  """Ends this process silently with MAIN_NOT_GUARDED_EXIT if it is a spawned worker that is still
  importing the main module (multiprocessing's bootstrap): a pool started there comes from a script without
  a main guard. The parent reports it (`imap_ordered`)."""
  # `_inheriting` is multiprocessing's own flag for exactly that phase (spawn._main sets it around the
  # re-import); parent_process() is not set yet then.
  if getattr(multiprocessing.current_process(), "_inheriting", False):
    os._exit(MAIN_NOT_GUARDED_EXIT)


def _init(barrier, fn) -> None:
  """Worker start: keeps the barrier; `fn` arrives unpickled, so every module it needs is imported here,
  before any item's clock runs."""
  global _barrier
  del fn
  _barrier = barrier


def _ready() -> int:
  """Returns once every worker of the pool runs (each holds one of these calls until all arrive)."""
  _barrier.wait(timeout=STARTUP_TIMEOUT_S)
  return os.getpid()


class _Pool:
  """A spawned ProcessPoolExecutor whose workers all run (and have imported what `fn` needs) once created."""

  def __init__(self, workers: int, fn):
    ctx = multiprocessing.get_context("spawn")
    self.executor = cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init,
                                           initargs=(ctx.Barrier(workers), fn))
    ready = [self.executor.submit(_ready) for _ in range(workers)]
    self.processes = list(self.executor._processes.values())  # for exit codes and kill(); spawned by submit
    try:
      for future in ready:
        future.result(timeout=STARTUP_TIMEOUT_S + 60)
    except (cf.process.BrokenProcessPool, cf.TimeoutError, threading.BrokenBarrierError, OSError) as e:
      codes = self.kill()
      if MAIN_NOT_GUARDED_EXIT in codes:
        raise UserError(MAIN_GUARD_MESSAGE) from None
      # Anything else (a function the workers cannot unpickle, a failing import, no memory) is not the
      # user's script: it keeps its cause.
      raise RuntimeError(f"the {workers} decoder worker processes did not start (exit codes {codes})") from e

  def submit(self, fn, item):
    return self.executor.submit(fn, item)

  def kill(self) -> list:
    """Stops every worker at once (running tasks included); returns their exit codes."""
    # A broken pool's management thread terminates and reaps the workers too, and it fails the futures
    # BEFORE that. Two threads reaping one child race: the loser's waitpid fails and leaves its exitcode
    # None until the winner stores the code. The codes are read once that thread has ended.
    manager = getattr(self.executor, "_executor_manager_thread", None)
    for p in self.processes:
      if p.exitcode is None:
        p.kill()
    for p in self.processes:
      p.join(timeout=10)
    self.executor.shutdown(wait=False, cancel_futures=True)
    if manager is not None:
      manager.join(timeout=30)
    return [p.exitcode for p in self.processes]

  def close(self) -> None:
    self.executor.shutdown(wait=True, cancel_futures=True)


def imap_ordered(fn: Callable, items: Sequence, *, workers: int, timeout_s: float,
                 on_failure: Callable, log=None) -> Iterator:
  """Yields fn(item) per item in order, in `workers` spawned processes (module docstring).

  Args:
    fn: a picklable function of one item (unpickled, with its modules, in every worker at start).
    items: picklable items.
    workers: processes (>= 1).
    timeout_s: the most seconds one item may run.
    on_failure: `(item, message) -> result` yielded for an item that crashed its worker twice or ran over
      the limit.
    log: `(item, message) -> None` for each crash and timeout (None: silent).
  """
  exit_if_reimported_main()
  todo = collections.deque(range(len(items)))  # never submitted, or innocent bystanders of a timeout
  suspects = collections.deque()  # in flight when a pool broke: retried alone
  retried = set()
  results = {}
  next_out = 0
  pool = None
  in_flight = {}  # future -> (index, deadline)
  try:
    while next_out < len(items):
      if next_out in results:
        yield results.pop(next_out)
        next_out += 1
        continue
      if pool is None:
        pool = _Pool(workers, fn)
      if suspects and not in_flight:  # a retry runs alone
        i = suspects.popleft()
        in_flight[pool.submit(fn, items[i])] = (i, time.monotonic() + timeout_s)
      retrying = any(i in retried for i, _ in in_flight.values())
      while not suspects and not retrying and todo and len(in_flight) < workers:
        i = todo.popleft()
        in_flight[pool.submit(fn, items[i])] = (i, time.monotonic() + timeout_s)
      wait = max(0.0, min(d for _, d in in_flight.values()) - time.monotonic())
      done, _ = cf.wait(list(in_flight), timeout=wait, return_when=cf.FIRST_COMPLETED)
      broken = False
      for future in done:
        i, _ = in_flight.pop(future)
        try:
          results[i] = future.result()
        except cf.process.BrokenProcessPool:
          in_flight[future] = (i, 0.0)
          broken = True
      if broken:
        pool.kill()
        pool = None
        for future, (i, _) in list(in_flight.items()):
          if i in retried:
            message = "its decoder process crashed (twice)"
            results[i] = on_failure(items[i], message)
          else:
            retried.add(i)
            suspects.append(i)
            message = "a decoder process crashed with this item in flight: retrying it alone"
          if log:
            log(items[i], message)
        in_flight.clear()
        continue
      now = time.monotonic()
      late = [f for f, (_, d) in in_flight.items() if d <= now and not f.done()]
      if late:
        pool.kill()
        pool = None
        for future, (i, _) in sorted(in_flight.items(), key=lambda kv: -kv[1][0]):
          if future in late:
            message = f"ran over the time limit of {timeout_s:g} s"
            results[i] = on_failure(items[i], message)
            if log:
              log(items[i], message)
          elif i in retried:
            suspects.appendleft(i)
          else:
            todo.appendleft(i)
        in_flight.clear()
  finally:
    if pool is not None:
      if in_flight:
        pool.kill()
      else:
        pool.close()
