"""The best checkpoint of a run by its main metric: `<workdir>/checkpoints_best/` and `<workdir>/best.json`.

`checkpoints_best/` is its own tf.train.CheckpointManager (max_to_keep=1), apart from the rolling
`checkpoints/` (last `train.keep_checkpoints`), so the best one is never deleted by newer saves. It holds what
evaluation and export need: `G_ema` (as `checkpointing.model_variables`, the same keys as a full checkpoint)
and `step`; `dvd_gan.run_folder.restore_ema_generator` and `python -m dvd_gan.evaluate --checkpoint=best` read
it like any training checkpoint. The values are copied to host variables first, so the chief writes it
alone, whatever the strategy (no collective save as with the full-state checkpoints).

`best.json` ({"step", "metric", "value"}) is written after the checkpoint, atomically (eval.io).

A resumed run restarts at its restored step: a best found after that step belongs to training that is redone,
so `roll_back` drops it (its checkpoint too). The best evaluation at or before that step (metrics.jsonl, as
dvd_gan.evaluation.periodic keeps it) becomes the best again only when its checkpoint can be had: made again
from the restored G_ema when it is the evaluation of the restored step itself, or still in the folder. An
earlier best's checkpoint is normally gone (the folder keeps one checkpoint: the dropped best replaced it), so
otherwise the run has no best until its next evaluation, and the one line it logs says which case it was.
"""
import time

import tensorflow as tf

from dvd_gan.run_folder import BEST_DIR, best_checkpoint_path, best_dir  # noqa: F401 - the run folder's layout
from dvd_gan.training import checkpointing
from dvd_gan.training.checkpointing import model_variables
from eval import io

BEST_JSON = "best.json"


def read_best(workdir: str) -> dict | None:
  """The content of `<workdir>/best.json`, or None."""
  path = io.join(workdir, BEST_JSON)
  return io.read_json(path) if io.exists(path) else None


def is_better(value: float, best: float | None, higher_is_better: bool) -> bool:
  if best is None:
    return value == value  # not NaN
  return value > best if higher_is_better else value < best


class BestCheckpoint:
  """Keeps the checkpoint of the best `metric` value seen (resumes from an existing best.json)."""

  def __init__(self, workdir: str, generator, step_variable, metric: str, higher_is_better: bool):
    self.workdir, self.metric, self.higher_is_better = workdir, metric, higher_is_better
    self._source = model_variables(generator)
    self._step_source = step_variable
    self._host = None
    self._manager = None
    previous = read_best(workdir)
    self.best = previous if previous is not None and previous.get("metric") == metric else None

  @property
  def value(self):
    return None if self.best is None else self.best["value"]

  def _checkpoint(self):
    if self._manager is None:
      with tf.device("/cpu:0"):
        self._host = {k: tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False) for k, v in self._source.items()}
        self._host_step = tf.Variable(0, dtype=tf.int64, trainable=False)
      ckpt = tf.train.Checkpoint(G_ema=self._host, step=self._host_step)
      self._manager = tf.train.CheckpointManager(ckpt, best_dir(self.workdir), max_to_keep=1)
    return self._manager

  def update(self, step: int, value: float) -> bool:
    """Saves the generator as the best checkpoint if `value` beats the best so far; returns whether it did."""
    if not is_better(value, self.value, self.higher_is_better):
      return False
    manager = self._checkpoint()
    for k, v in self._source.items():
      self._host[k].assign(v.numpy())
    self._host_step.assign(int(step))
    manager.save(checkpoint_number=int(step))
    self.best = {"step": int(step), "metric": self.metric, "value": float(value)}
    io.write_json(io.join(self.workdir, BEST_JSON), self.best)
    return True

  def roll_back(self, step: int, records, log=print) -> None:
    """best.json and checkpoints_best/ as of training step `step`, the restored step of a resumed run, from
    `records` (metrics.jsonl's records up to `step`); see the module docstring. The G_ema of the trainer must
    be that of step `step`."""
    current = read_best(self.workdir)
    if current is None or int(current.get("step", -1)) <= int(step):
      return
    best = None
    for r in sorted(records, key=lambda r: int(r["step"])):  # as update() chose them, in order
      value = r.get(self.metric)
      if value is not None and int(r["step"]) <= int(step) and is_better(
          float(value), None if best is None else best["value"], self.higher_is_better):
        best = {"step": int(r["step"]), "metric": self.metric, "value": float(value)}
    folder = best_dir(self.workdir)
    keep = None if best is None else io.join(folder, f"ckpt-{best['step']}")
    for n, names in checkpointing.checkpoint_numbers(folder).items():  # all but the one of the best kept
      if best is None or n != best["step"]:
        for name in names:
          io.remove(io.join(folder, name))
    self.best, self._manager = None, None
    if keep is not None and io.exists(keep + ".index"):
      checkpointing.write_state(folder, [keep], [time.time()], time.time() - 1.0)
      self.best = best
      io.write_json(io.join(self.workdir, BEST_JSON), best)
    elif best is not None and best["step"] == int(step):
      io.remove(io.join(folder, checkpointing.STATE_FILE))
      self.update(best["step"], best["value"])
    else:
      io.remove(io.join(folder, checkpointing.STATE_FILE))
      io.remove(io.join(self.workdir, BEST_JSON))
    if self.best:
      after = f"best is step {self.best['step']} ({self.metric} {self.best['value']:.6g})"
    elif best is not None:
      after = (f"the best before it (step {best['step']}, {self.metric} {best['value']:.6g}) has no checkpoint "
               "left (checkpoints_best/ keeps one): no best until the next evaluation")
    else:
      after = "no best before it"
    log(f"best.json: dropped the best of step {current['step']} (after step {step}, where training resumes); "
        + after)
