"""Rematerialisation (gradient checkpointing) of residual blocks that keeps every result equal.

`remat(fn)(*tensors)` runs `fn` through `tf.recompute_grad`: the forward pass keeps only the block's inputs
and output, and the backward pass recomputes the block's activations, trading about one more forward pass of
the block for not storing them (config `model.remat`, docs/models.md).

Recomputing a block naively would run its stateful parts twice: the spectral-norm power iteration (which
reads and updates `u`) and the batch-norm moving statistics. The recomputation would then use a `u` one
iteration further on (a different sigma, so different gradients) and update `u` and the moving statistics a
second time. The layers therefore read and write that state through `read_state` / `assign_state`: during
the forward pass of a rematerialised block the values read are recorded; during its recomputation the same
values are replayed and no state is written. Outside `remat` both are plain variable reads and assigns.
Settings a layer reads from an enclosing scope (`read_setting`) are recorded and replayed the same way.
A test compares every variable (u and moving statistics included) after a training step with and without
remat (tests/dvd_gan/training/test_step_optimisations.py).

The recorder is per thread (`tf.distribute` runs each replica's step in its own thread) and per call: each
call of the function `remat` returns gets its own record, so a block applied to real and to fake videos
replays the right values for each.
"""
import threading

import tensorflow as tf

_local = threading.local()


class _Record:
  """State values read by one forward call of a rematerialised function, replayed by its recomputation."""

  def __init__(self):
    self.values = []
    self.replaying = False
    self.position = 0

  def read(self, value_fn):
    """`value_fn()` recorded in the forward pass; the recorded value, in order, in the recomputation."""
    if self.replaying:
      value = self.values[self.position]
      self.position += 1
      return value
    value = value_fn()
    self.values.append(value)
    return value


def _current():
  return getattr(_local, "record", None)


def recording():
  """True inside a rematerialised function (its forward pass or its recomputation)."""
  return _current() is not None


def read_state(variable):
  """The value of a state variable (spectral-norm `u`) as the current forward pass must use it."""
  def value():
    return tf.convert_to_tensor(variable.value if hasattr(variable, "value") else variable)
  record = _current()
  return value() if record is None else record.read(value)


def read_setting(value):
  """`value` (a Python value the layer's computation depends on, e.g. the power iterations of the enclosing
  `spectral_norm.batched` scope); during a recomputation, the value its forward pass had: the backward pass
  runs outside the scopes the forward pass ran in."""
  record = _current()
  return value if record is None else record.read(lambda: value)


def assign_state(variable, value_fn):
  """`variable.assign(value_fn())`, except while a rematerialised block is being recomputed (the forward pass
  already did it)."""
  record = _current()
  if record is not None and record.replaying:
    return None
  return variable.assign(value_fn())


def remat(fn):
  """`fn(*tensors) -> tensor(s)` recomputed in the backward pass (`tf.recompute_grad`), state-safe.

  Only positional tensor arguments are differentiated; pass everything else (e.g. `training`) by closure.
  """

  def call(*args):
    record = _Record()
    state = {"calls": 0}

    def recorded(*inner_args):
      previous = _current()
      record.replaying, record.position = state["calls"] > 0, 0
      state["calls"] += 1
      _local.record = record
      try:
        return fn(*inner_args)
      finally:
        _local.record = previous

    return tf.recompute_grad(recorded)(*args)

  return call
