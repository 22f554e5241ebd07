"""The training loop: data, checkpoints, summaries, signals, NaN guard, progress line, final evaluation.

`train(config, workdir)` runs (or resumes) a run in `workdir`, on any filesystem TensorFlow knows (a local
folder, `gs://bucket/...`): every file goes through tf.io.gfile (`eval.io`; checkpoints and TensorBoard
events through TensorFlow's own writers, which use it too):

  workdir/checkpoints/      tf.train.CheckpointManager (last `train.keep_checkpoints`), full state
  workdir/tensorboard/      tf.summary scalars (losses, learning rates, steps/s, examples/s) and images
  workdir/samples/          samples_<step>.png (frame grid: a row per video), .gif and .mp4 (animated) from G_ema
  workdir/config.json       the resolved config of the run
  workdir/fvd.json          the end-of-run figures (when eval.fvd_at_end; see dvd_gan.evaluation.figures)
  workdir/metrics.jsonl     evaluations during training (eval.every_steps; dvd_gan.evaluation.periodic)
  workdir/checkpoints_best/ workdir/best.json: the best checkpoint by the main metric
  workdir/prediction.json   DVD-GAN-FP instead of fvd.json (dvd_gan.evaluation.prediction.demo_figures)

Steps run `train.steps_per_loop` at a time inside one tf.function call (Trainer.train_loop); the host reads
one boolean per call (all metrics finite?) and the metrics themselves only at `log_every` boundaries and
evaluation steps (every call when steps_per_loop is 1). Checkpoints, samples, logs, evaluations and signals
are handled between calls, so their intervals must be multiples of steps_per_loop (`check_schedule`).
Evaluation, during training and at the end, goes through one object (dvd_gan.evaluation.run_evaluation).

DVD-GAN-FP runs (data.num_conditioning_frames = C > 0) sample from fixed conditioning frames (the first
videos of the evaluation split): the sample files show [conditioning frames; prediction], C + T frames.
"""
import math
import os
import time

import tensorflow as tf

from dvd_gan import data as data_lib
from dvd_gan import errors, legacy, random_streams
from dvd_gan.config import resolve_config
from dvd_gan.evaluation import prediction as prediction_eval
from dvd_gan.evaluation.run_evaluation import RunEvaluation
from dvd_gan.training import checkpointing, config_changes, finite_state, resume, summaries, worker_dirs
from dvd_gan.training import workdir_lock
from dvd_gan.training.preemption import Interrupted, StopFlag, make_stop_sync
from dvd_gan.training.progress import Progress
from dvd_gan.training.config import check_schedule
from dvd_gan.training.strategy import apply_thread_settings, make_strategy
from dvd_gan.training.trainer import build_trainer
from eval import io as eio


class NonFiniteLossError(RuntimeError):
  """A loss became NaN or Inf; the run stopped without saving (the last good checkpoint is intact)."""


def sample_latents(config, num_videos: int, seed: int):
  """Fixed z [N, z_dim] and labels y [N] (class i % C: every class appears in order) for sample summaries."""
  z, _ = random_streams.latents(random_streams.key(seed, random_streams.Stream.SAMPLE_SUMMARIES), num_videos,
                                int(config.model.z_dim), 0)
  c = int(config.num_classes)
  y = tf.range(num_videos, dtype=tf.int32) % c if c > 0 else None
  return z, y


def _is_chief(strategy) -> bool:
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not getattr(resolver, "task_type", None):
    return True
  return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                           and "chief" not in resolver.cluster_spec().as_dict())


def train(config, workdir: str, *, strategy=None, build_models=None, dataset_fn=None, log=print,
          max_steps: int | None = None, metric_fn=None) -> dict:
  """Trains (or resumes) the run in `workdir` up to config.train.num_steps G steps.

  SIGTERM / SIGINT are handled from the first line on: a signal during start-up or restore ends the run
  before its first step with nothing saved (nothing new to save; `stopped_by` = the signal); a signal during
  training finishes the current call of steps, saves it and returns. A signal during sample writing or an
  evaluation stops them at their next batch (nothing of them is written), then saves and returns the same
  way; during the end-of-run figures it stops them (no figures file; the checkpoint of the last step is
  saved already): running again finishes them. A second SIGINT raises KeyboardInterrupt at once.

  Args:
    config: the top-level config (experiments/*.py).
    workdir: run folder (created).
    strategy: a tf.distribute strategy; default: built from config.train.strategy / config.train.tpu.
    build_models: `config -> (G, DS, DT)`; default dvd_gan.models.build.build_models.
    dataset_fn: `(config, input_context, batches_to_skip) -> per-replica tf.data.Dataset`; default:
      dvd_gan.data.make_dataset(config, split="train", training=True, input_context=ctx).skip(n).
    log: function printing one line.
    max_steps: stop after this many steps of THIS invocation (used to simulate a kill in tests).
    metric_fn: `(step, trainer) -> {"<protocol>/<metric>": value}` replacing the periodic scoring (tests).

  Returns:
    {"step", "trainer", "stopped_by" (None | signal number | "peer": another worker's signal | "max_steps" |
     "collapse"), "last_metrics" (metrics of the last step run), "eval"}.
  """
  chief = _is_chief(strategy) if strategy is not None else workdir_lock.is_chief_task(config.train.strategy)
  with StopFlag():  # first thing: the loop's own flag (below) inherits a signal received before it
    with workdir_lock.for_run(str(workdir), chief, log):  # before anything is written to the workdir
      return _train(config, workdir, strategy=strategy, build_models=build_models, dataset_fn=dataset_fn,
                    log=log, max_steps=max_steps, metric_fn=metric_fn)


def _train(config, workdir, *, strategy, build_models, dataset_fn, log, max_steps, metric_fn) -> dict:
  """The body of `train` (its docstring), run while a StopFlag handles the signals."""
  t = config.train
  # Before anything starts TensorFlow's runtime (the thread pools are fixed from then on).
  apply_thread_settings(t.get("intra_op_threads", 0), t.get("inter_op_threads", 0), log)
  with errors.config_errors():
    steps_per_loop = check_schedule(t, config.eval.get("every_steps", 0))
  if t.get("deterministic", False):
    tf.config.experimental.enable_op_determinism()
  config_changes.check_folder_resume(config, str(workdir))  # before resolving prepares (decodes) a folder
  with errors.config_errors():
    config = legacy.keep_run_generator(resolve_config(config), str(workdir), log)
  config_changes.check_resume(config, str(workdir), log)
  workdir = str(workdir)
  eio.makedirs(workdir)
  with errors.config_errors():
    strategy = strategy or make_strategy(t.strategy, t.tpu)
  chief = _is_chief(strategy)
  with errors.config_errors():
    trainer = build_trainer(config, strategy, build_models)
  checkpoint = checkpointing.make_checkpoint(trainer)
  # Before anything is written: a workdir whose checkpoints all fail to restore stays as it is (UserError).
  restored = resume.restore_newest(checkpoint, workdir, chief=chief, log=log)
  task = worker_dirs.remove_leftovers(workdir, strategy, chief=chief, log=log)
  manager = checkpointing.make_manager(checkpoint, workdir, t.keep_checkpoints, is_chief=chief, task=task)
  guard = finite_state.FiniteGuard(trainer)  # no checkpoint with a NaN / Inf variable
  start_step = int(trainer.step.numpy())
  if restored:
    log(f"resumed from {restored} at step {start_step}")
  if chief:
    config_changes.write_config(workdir, config, log)

  skip = start_step * trainer.batches_per_step
  if dataset_fn is None:
    def dataset_fn(cfg, ctx, n):
      return data_lib.make_dataset(cfg, split="train", training=True, input_context=ctx).skip(n)
  with errors.config_errors(FileNotFoundError):  # e.g. a dataset not prepared in data.data_dir
    dist_ds = strategy.distribute_datasets_from_function(lambda ctx: dataset_fn(config, ctx, skip))
    iterator = iter(dist_ds)

  tb_dir = eio.join(workdir, "tensorboard" if chief else f"tmp_tensorboard_{os.getpid()}")
  writer = tf.summary.create_file_writer(tb_dir) if chief else tf.summary.create_noop_writer()
  samples_dir = eio.join(workdir, "samples")
  z_fixed, y_fixed = sample_latents(config, int(t.num_sample_videos), int(config.seed) + 1)
  stop = StopFlag()  # entered below; its `requested` stops sample writing and evaluations at their batches
  evaluation = RunEvaluation(config, workdir, trainer, strategy=strategy, chief=chief, writer=writer,
                             start_step=start_step, log=log, metric_fn=metric_fn, should_stop=stop.requested,
                             build_models=build_models)
  context_fixed = None
  if trainer.num_context and chief:
    context_fixed = prediction_eval.fixed_contexts(config, int(t.num_sample_videos))
    # An evaluation split of fewer clips (a small folder of one's own videos) gives fewer sample videos.
    n = int(context_fixed.shape[0])
    z_fixed, y_fixed = z_fixed[:n], (None if y_fixed is None else y_fixed[:n])

  def write_samples(step):
    if not chief:
      return
    videos = trainer.sample(z_fixed, y_fixed, context_fixed).numpy()
    try:
      out = summaries.write_samples(samples_dir, f"samples_{step:07d}", videos, log=log,
                                    should_stop=stop.requested)
    except Interrupted:  # the caller goes on to its next stop check (no collective skipped on the chief)
      log(f"received signal {stop.signal} while writing the samples of step {step}: stopped")
      return
    with writer.as_default():
      summaries.image("samples/ema_frame_grid", out["grid"], step)

  num_steps = int(t.num_steps)
  log(f"training steps {start_step + 1}..{num_steps} on {strategy.num_replicas_in_sync} replica(s), "
      f"global batch {trainer.global_batch}, {steps_per_loop} step(s) per call, workdir {workdir}")
  examples_per_step = trainer.global_batch * (trainer.d_steps + 1)
  stop_everywhere = make_stop_sync(strategy)
  last_metrics, stopped_by = {}, None
  step = start_step
  done_this_run = 0
  progress = Progress()
  metrics = None
  with stop:  # holds a signal received since train() started
    if stop_everywhere(stop.signal is not None):  # before the first step: nothing new to save
      log(f"received signal {stop.signal if stop.signal is not None else 'on another worker'} before the "
          "first step: nothing new to save; exiting")
      summaries.flush(writer, log)
      return {"step": step, "trainer": trainer, "stopped_by": stop.signal if stop.signal is not None else "peer",
              "last_metrics": {}, "eval": None}
    while step < num_steps:
      # Up to the next multiple of steps_per_loop (a resumed run may start between two), the end, max_steps.
      n = min(steps_per_loop - step % steps_per_loop, num_steps - step)
      if max_steps is not None:
        n = min(n, max_steps - done_this_run)
      metrics, finite = trainer.train_loop(iterator, tf.constant(n, tf.int32))
      if not bool(finite):  # the one value read back every call
        bad_step = int(trainer.step.numpy())
        values = {k: float(v) for k, v in metrics.items()}
        bad = sorted(k for k, v in values.items() if not math.isfinite(v))
        raise NonFiniteLossError(
            f"non-finite loss at step {bad_step}: {', '.join(f'{k}={values[k]}' for k in bad)}; stopped "
            f"without saving, last good checkpoint: {manager.latest_checkpoint or 'none'}")
      step += n
      done_this_run += n
      progress.stepped(n)
      logged = step % int(t.log_every) == 0 or step == num_steps
      values = None  # metrics cross to the host only here (and with one step per call, at every call)
      if logged or steps_per_loop == 1 or evaluation.due(step):
        values = {k: float(v) for k, v in metrics.items()}
      if logged:
        steps_per_sec, eta = progress.rate_and_eta(num_steps - step, evaluation.evaluations_left(step, num_steps))
        log(f"step {step}/{num_steps}  {steps_per_sec:.2f} steps/s  ETA {eta / 60:.1f} min  "
            f"d_loss {values['d_loss']:.3f}  g_loss {values['g_loss']:.3f}")
        with writer.as_default():
          for k, v in values.items():
            summaries.scalar(f"losses/{k}", v, step)
          summaries.scalar("lr/g", float(tf.convert_to_tensor(trainer.g_opt.learning_rate)), step)
          summaries.scalar("lr/d", float(tf.convert_to_tensor(trainer.d_opt.learning_rate)), step)
          summaries.scalar("speed/steps_per_sec", steps_per_sec, step)
          summaries.scalar("speed/examples_per_sec", steps_per_sec * examples_per_step, step)
      if step % int(t.checkpoint_every) == 0:
        guard.save(manager, step)
      if step % int(t.sample_every) == 0:
        write_samples(step)
      if values is not None:
        evaluation.observe(values)
      evaluation_start, collapsed = time.monotonic(), False
      try:
        collapsed = evaluation.after_step(step)
      except Interrupted:  # only raised once stop.signal is set: the agreement below stops every worker
        log(f"received signal {stop.signal} during the evaluation of step {step}: stopped it (nothing of it "
            "written)")
      if evaluation.due(step):
        progress.evaluated(time.monotonic() - evaluation_start)
      if collapsed:
        stopped_by = "collapse"
        break
      if stop_everywhere(stop.signal is not None):
        stopped_by = stop.signal if stop.signal is not None else "peer"
        log(f"received signal {stop.signal if stop.signal is not None else 'on another worker'}: saving at "
            f"step {step} and exiting")
        break
      if max_steps is not None and done_this_run >= max_steps:
        stopped_by = "max_steps"
        break
  if metrics is not None:
    last_metrics = {k: float(v) for k, v in metrics.items()}
  if manager.latest_checkpoint is None or not manager.latest_checkpoint.endswith(f"-{step}"):
    guard.save(manager, step)
  summaries.flush(writer, log)
  if not chief:  # a non-chief worker's saves only took part in the collective save: drop them
    eio.remove(manager.directory)
    try:  # tmp_worker_checkpoints/, once no other worker uses it
      if not eio.listdir(eio.dirname(manager.directory)):
        eio.remove(eio.dirname(manager.directory))
    except eio.io_errors():
      pass
  result = {"step": step, "trainer": trainer, "stopped_by": stopped_by, "last_metrics": last_metrics,
            "eval": None}
  if stopped_by is None and step >= num_steps:
    with stop:  # again: a signal now stops the figures (the checkpoint of this step is saved)
      try:
        if step % int(t.sample_every):
          write_samples(step)
        result["eval"] = evaluation.at_end()
      except Interrupted:
        result.update(stopped_by=stop.signal, eval=None)
        log(f"received signal {stop.signal} during the end-of-run figures: stopped them (nothing written); "
            f"step {step} is saved: run the same command to finish them")
  return result
