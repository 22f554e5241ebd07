"""Full-state checkpoints: G, DS, DT, G_ema, both optimisers, the step, the seed generator, data position.

tf.train.CheckpointManager keeps the last `keep` checkpoints under `<workdir>/checkpoints`. TensorFlow
writes a checkpoint's files under temporary names and renames them, and the manager updates its
`checkpoint` index file only after the data is complete, so a kill during a save leaves the previous
checkpoint as the latest one.

Data position: tf.distribute's distributed iterators are not checkpointable (MirroredStrategy and others), so
the number of per-replica batches consumed is stored (`batches_consumed` = step * d_steps_per_g_step, + step
for DVD-GAN-FP, whose G update reads a batch of its own: `Trainer.batches_per_step`) and a
resumed run skips that many batches of its (deterministic, seeded) input pipeline.

Paths may be on any filesystem TensorFlow knows (`gs://...`): the manager writes through tf.io.gfile.
"""
import os

import tensorflow as tf

from eval import io as eio


def model_variables(model) -> dict:
  """Every variable of a built Keras model, keyed by position and leaf name: {"v0007_u": u, ...}.

  Keras 3 keeps sub-layers held in Python lists (e.g. the generator's residual blocks) in its own tracker,
  which tf.train.Checkpoint does not traverse: `tf.train.Checkpoint(G=G)` silently leaves those variables
  out (their weights, spectral-norm `u`, batch-norm moving statistics). Checkpointing this dict instead
  saves all of them; the keys depend only on the architecture (the order of `model.weights`), so a model
  rebuilt from the same config in another process restores them. To restore one model, e.g. G_ema:
  `tf.train.Checkpoint(G_ema=model_variables(G_ema)).restore(path).expect_partial()`.
  """
  out = {}
  for i, v in enumerate(model.weights):
    leaf = v.name.split("/")[-1].split(":")[0]
    out[f"v{i:04d}_{leaf}"] = v
  return out


def make_checkpoint(trainer) -> tf.train.Checkpoint:
  """The checkpoint object of a Trainer's full state (models as `model_variables` dicts)."""
  return tf.train.Checkpoint(
      G=model_variables(trainer.G), DS=model_variables(trainer.DS), DT=model_variables(trainer.DT),
      G_ema=model_variables(trainer.G_ema),
      g_opt=trainer.g_opt, d_opt=trainer.d_opt, step=trainer.step, rng=trainer.rng)


def checkpoint_dir(workdir: str) -> str:
  return eio.join(workdir, "checkpoints")


def make_manager(checkpoint, workdir: str, keep: int, is_chief: bool = True) -> tf.train.CheckpointManager:
  """CheckpointManager in `<workdir>/checkpoints`; non-chief workers write to a private temporary folder
  (MultiWorkerMirroredStrategy needs every worker to take part in the save)."""
  directory = checkpoint_dir(workdir)
  if not is_chief:
    directory = eio.join(workdir, "tmp_worker_checkpoints", str(os.getpid()))
  return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=int(keep))


def restore_latest(checkpoint, workdir: str):
  """Restores the newest checkpoint of `workdir` (returns its path) or returns None for a fresh run."""
  latest = tf.train.latest_checkpoint(checkpoint_dir(workdir))
  if latest is None:
    return None
  checkpoint.restore(latest).assert_existing_objects_matched()
  return latest


def read_checkpoint(prefix: str):
  """A reader (`get_tensor(name)`, `get_variable_to_shape_map()`) of the checkpoint at path prefix `prefix`.

  tf.train.load_checkpoint / list_variables first ask whether `prefix` is a folder and, if so, read the newest
  checkpoint in it; filesystems that answer by prefix (ram://, where `ckpt-4` is a "folder" because
  `ckpt-4.index` exists) then fail. The reader itself takes the prefix as it is.
  """
  return tf.compat.v1.train.NewCheckpointReader(str(prefix))
