"""No checkpoint holds a NaN or an Inf: every save first checks the whole trained state.

The training loop checks the losses of every step, but a step's losses are computed before its updates: an
Inf gradient in the last step before a save turns the weights NaN while every loss is finite, and the saved
checkpoint (soon the only one kept) would hold them. `FiniteGuard.save` checks G, DS, DT, G_ema and both
optimisers' variables first, in one tf.function call that reads back ONE boolean (cheap next to the save),
and names the first non-finite variable only when that boolean is false; then it raises
`NonFiniteVariableError` and saves nothing, so the last good checkpoint stays the latest one.

Every worker of a multi-worker run holds the same values (the updates are all-reduced), so every worker
reaches the same decision and none waits in a collective save for the others.
"""
import tensorflow as tf


class NonFiniteVariableError(RuntimeError):
  """A variable of the trained state is NaN or Inf; the run stopped without saving (not a user's input)."""


def _is_float(variable) -> bool:
  return tf.as_dtype(variable.dtype).is_floating


def named_variables(trainer) -> list:
  """[(name, variable)] of every float variable that a checkpoint of `trainer` holds, in a fixed order: G, DS,
  DT, G_ema (their weights), then g_opt and d_opt (moments, learning rate, ...). Names: "G/<path>",
  "g_opt/<path>"."""
  out = []
  groups = [(m, getattr(trainer, m).weights) for m in ("G", "DS", "DT", "G_ema")]
  groups += [(o, getattr(trainer, o).variables) for o in ("g_opt", "d_opt")]
  for group, variables in groups:
    for v in variables:
      if _is_float(v):
        out.append((f"{group}/{getattr(v, 'path', None) or v.name}", v))
  return out


class FiniteGuard:
  """`guard.save(manager, step)`: saves `manager`'s checkpoint of step `step` when every variable of the
  trainer is finite, else raises NonFiniteVariableError naming the first bad one (module docstring)."""

  def __init__(self, trainer):
    self.variables = named_variables(trainer)
    values = [v for _, v in self.variables]

    @tf.function
    def all_finite():
      return tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in values]))
    self._all_finite = all_finite

  def first_bad(self) -> tuple:
    """(name of the first non-finite variable or None, how many are non-finite)."""
    bad = [name for name, v in self.variables if not bool(tf.reduce_all(tf.math.is_finite(v)))]
    return (bad[0] if bad else None), len(bad)

  def check(self, step: int, last_good: str | None) -> None:
    """Raises NonFiniteVariableError when a variable is NaN or Inf; `last_good` names the latest checkpoint."""
    if bool(self._all_finite()):
      return
    name, count = self.first_bad()
    raise NonFiniteVariableError(
        f"non-finite variable at step {step}: {name}" + (f" (and {count - 1} more)" if count > 1 else "")
        + f"; stopped without saving, last good checkpoint: {last_good or 'none'}")

  def save(self, manager, step: int) -> str:
    """`manager.save(checkpoint_number=step)` after `check`; returns the path saved."""
    self.check(step, manager.latest_checkpoint)
    return manager.save(checkpoint_number=int(step))
