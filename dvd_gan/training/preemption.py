"""Stopping on SIGTERM / SIGINT (preemption, Ctrl-C), agreed on by every worker of a multi-worker run.

The training loop checks the flag between calls of `train.steps_per_loop` steps, then saves a checkpoint and
exits. Evaluation, sample writing and the end-of-run figures check it between their batches through
`StopFlag.requested` (a `should_stop` callback: eval.interrupt), which makes them raise `Interrupted`; the loop
catches it, drops what they had not written yet, saves and exits. A second SIGINT while the flag already
holds a signal raises KeyboardInterrupt at once (Ctrl-C twice: exit now, without saving). `StopFlag` is the
process's only SIGTERM handler: tf.distribute.experimental.PreemptionCheckpointHandler is not used
(docs/training.md, "Preemption", gives the evidence).

Importing this module does not import TensorFlow: `dvd-gan-train` enters a StopFlag before it loads
TensorFlow, so a signal at any time of the start-up is recorded rather than fatal. Flags nest: a StopFlag
entered while another one handles the signals inherits a signal the outer one already received (train()
holds one from its first line; the loop's own flag takes it over).
"""
import signal
import threading

from eval.interrupt import Interrupted  # noqa: F401 - what the loops raise when `requested` says stop


class StopFlag:
  """`with StopFlag() as stop:` turns SIGTERM / SIGINT into `stop.signal` (the signal number, else None).

  Installed only in the main thread (signal handlers cannot be set elsewhere); the previous handlers are put
  back on exit. Entered while another StopFlag handles the signals, it starts with that flag's signal, and
  hands its own back to it on exit. A flag may be entered again after its exit (it keeps its signal). A
  SIGINT received while the flag already holds a signal raises KeyboardInterrupt in the main thread: the
  second Ctrl-C does not wait for a save.
  """

  def __init__(self):
    self.signal = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)
        outer = getattr(self._previous[sig], "__self__", None)
        if self.signal is None and isinstance(outer, StopFlag):
          self.signal = outer.signal
    return self

  def _handle(self, signum, frame):
    if signum == signal.SIGINT and self.signal is not None:
      raise KeyboardInterrupt
    self.signal = signum

  def requested(self) -> bool:
    """Whether a signal was received: the `should_stop` callback of the loops that stop at batch boundaries."""
    return self.signal is not None

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      outer = getattr(handler, "__self__", None)
      if self.signal is not None and isinstance(outer, StopFlag) and outer.signal is None:
        outer.signal = self.signal  # so that a second Ctrl-C during what follows (the save) still exits
      signal.signal(sig, handler)
    self._previous = {}


def make_stop_sync(strategy):
  """`local_stop: bool -> bool`, true on every worker when any worker got a signal.

  With several workers (MultiWorkerMirroredStrategy) each process has its own signal: if only one of them
  stopped, the others would wait for it in their next collective. The flags are all-reduced (a sum of 0 / 1
  over replicas) at every call boundary instead, so every worker saves the same step and exits together.
  One process (default, mirrored, TPU: a single client drives all TPU hosts): the local flag itself.
  """
  import tensorflow as tf  # noqa: PLC0415 - this module is imported before TensorFlow (module docstring)
  resolver = getattr(strategy, "cluster_resolver", None)
  spec = resolver.cluster_spec().as_dict() if hasattr(resolver, "cluster_spec") else {}
  num_tasks = sum(len(spec.get(job, ())) for job in ("chief", "worker"))
  if num_tasks <= 1 or isinstance(strategy, tf.distribute.TPUStrategy):
    return bool
  return any_replica(strategy)


def any_replica(strategy):
  """`flag -> bool`: whether any replica of `strategy` was given a true flag (tf.distribute has no MAX
  reduction: a sum of 0 / 1 > 0)."""
  import tensorflow as tf  # noqa: PLC0415 - the StopFlag is set before TensorFlow loads
  @tf.function
  def reduce_sum(flag):
    per_replica = strategy.run(lambda: tf.identity(flag))
    return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
  return lambda local: bool(reduce_sum(tf.constant(1.0 if local else 0.0)).numpy() > 0)
