"""Evaluation of DVD-GAN-FP (future video prediction; docs/paper.md, DVD-GAN-FP and Evaluation).

The paper's protocol (Tables 3 and 4), `prediction_fvd`: FVD as Unterthiner et al. (2018), on the logits of
the Kinetics-400 I3D, of [conditioning frames; predicted frames] (C + T frames) against the real clips
[conditioning frames; true continuation] the conditioning frames were taken from, on a split (the paper
reports the train and the test split), as mean +- standard deviation over `num_draws` repeated draws. One
draw d:
  * N real clips of C + T frames: the first N clips of the split's input pipeline in training mode with seed
    `seed + d` (shuffled order, random start frame, random crop; dvd_gan.data.make_dataset). With N = the
    split's size this is every clip once (e.g. BAIR's 256 test clips), each at a random start.
  * one prediction per clip, z ~ N(0, truncation^2 I) from the seed (seed + d, batch index);
  * FVD of the N predicted videos against the N real clips (statistics accumulated batch by batch, so N is
    not bounded by memory).
The paper gives neither N nor the number of draws; the defaults here are N = 256 and 10 draws
(`eval.fp_num_videos`, `eval.fp_num_draws`), and docs/training.md ("DVD-GAN-FP") lists the commands.

The tiny demo (`experiments/tiny_fp.py`, `eval.fvd_at_end`), `demo_figures`: on N test clips of the synthetic
moving shapes (4 conditioning frames, 8 to predict), for the trained EMA generator, the untrained one (seeded
by config.seed) and the copy-last-frame baseline: the direction of motion of the predicted frames read back
from the pixels (`dvd_gan.data.synthetic.class_cues`) against the true continuation's direction (the clip's
class), FVD of [conditioning; predicted] against the real clips, and the per-frame mean squared error of the
predicted frames (pixels in [-1, 1]). Written by the training loop to `<workdir>/prediction.json`.
"""
import time

import numpy as np
import tensorflow as tf

from dvd_gan import random_streams
from eval.video_writer import to_uint8
from dvd_gan import data as data_lib
from dvd_gan.data import synthetic as synthetic_data
from dvd_gan.evaluation.untrained import network_and_untrained_generator, samples_seed
import eval as video_eval
from eval.interrupt import check as check_stop

def clip_batches(config, split: str, num_videos: int, batch_size: int, *, training: bool, seed=None,
                 should_stop=None):
  """Yields `(context [b, C, H, W, 3], future [b, T, H, W, 3], labels [b])` float32 in [-1, 1] numpy batches
  of the first `num_videos` clips of `split` (dvd_gan.data.make_dataset with the given mode and seed; None:
  config.seed). `should_stop` (eval.interrupt) is checked before every batch."""
  cfg = config.copy_and_resolve_references()
  cfg.batch_size = int(batch_size)
  ds = data_lib.make_dataset(cfg, split=split, training=training, seed=seed)
  n = 0
  for batch in ds:
    check_stop(should_stop, f"clips of {split}")
    take = min(int(batch_size), num_videos - n)
    yield (batch["context"].numpy()[:take], batch["video"].numpy()[:take], batch["label"].numpy()[:take])
    n += take
    if n >= num_videos:
      return
  raise ValueError(f"split {split!r} has only {n} clips of {config.data.num_conditioning_frames} + "
                   f"{config.num_frames} frames, {num_videos} requested")


def real_clips(config, split: str, num_videos: int, batch_size: int, *, training: bool = False, seed=None,
               should_stop=None):
  """`(context, future, labels)` of the first `num_videos` clips of `split` (see `clip_batches`), all in memory."""
  parts = list(clip_batches(config, split, num_videos, batch_size, training=training, seed=seed,
                            should_stop=should_stop))
  return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def fixed_contexts(config, num_videos: int) -> tf.Tensor:
  """The conditioning frames `[N, C, H, W, 3]` of the first N clips of the evaluation split (for the sample
  files of a DVD-GAN-FP run)."""
  split = config.data.get("eval_split", "test") or "test"
  context, _, _ = real_clips(config, split, num_videos, min(num_videos, 16), training=False)
  return tf.constant(context)


def predict(generator, context, seed, truncation: float = 1.0, batch_size: int = 8,
            should_stop=None) -> np.ndarray:
  """G(z, context) in inference mode: predicted frames float32 `[N, T, H, W, 3]`; batch i of `batch_size`
  videos draws z ~ N(0, truncation^2 I) from the key [seed, i]. `should_stop`: eval.interrupt."""
  z_dim = int(generator.z_dim)

  @tf.function
  def run(z, ctx):
    return tf.cast(generator(z, ctx, training=False), tf.float32)

  out = []
  for i, start in enumerate(range(0, context.shape[0], batch_size)):
    check_stop(should_stop, "predictions")
    ctx = tf.convert_to_tensor(context[start:start + batch_size], tf.float32)
    z, _ = random_streams.latents(tf.constant([int(seed), i], tf.int64), int(ctx.shape[0]), z_dim, 0,
                              truncation=truncation)
    out.append(run(z, ctx).numpy())
  return np.concatenate(out)


def copy_last_frame(context, num_frames: int) -> np.ndarray:
  """The copy-last-frame baseline: the last conditioning frame repeated `num_frames` times `[N, T, H, W, 3]`."""
  context = np.asarray(context)
  return np.repeat(context[:, -1:], num_frames, axis=1)


def per_frame_mse(predicted, future) -> np.ndarray:
  """Mean squared error of each predicted frame against the true one (pixels in [-1, 1]): `[T]`."""
  d = np.asarray(predicted, np.float64) - np.asarray(future, np.float64)
  return np.mean(d * d, axis=(0, 2, 3, 4))


def _stats(videos_uint8, net, batch_size, should_stop=None):
  return video_eval.compute_stats(videos_uint8, network=net, batch_size=batch_size, progress=False,
                                  should_stop=should_stop)


def _fvd(real_stats, fake_stats, net) -> float:
  return float(video_eval.compute_metric("fvd", real_stats, fake_stats, network=net).value)


def prediction_fvd(generator, config, *, split: str, num_videos: int = 256, num_draws: int = 10, seed: int = 0,
                   truncation: float = 1.0, network="i3d-kinetics-400", weights=None, batch_size: int = 8,
                   log=print, should_stop=None) -> dict:
  """The paper's prediction FVD on `split` (module docstring): mean and std over `num_draws` draws.

  Args:
    generator: a DVD-GAN-FP generator `(z, context) -> [B, T, H, W, 3]` (e.g. a run's G_ema).
    config: the run's resolved config (data.*, num_frames, data.num_conditioning_frames).
    split: "train" or "test" (any split of the configured data).
    num_videos: clips per draw; num_draws: draws; seed: draw d uses seed + d for the clips and z.
    network, weights: the eval package's feature network (FVD: the Kinetics-400 I3D logits).
    should_stop: `() -> bool` checked between batches (eval.interrupt: True raises Interrupted).

  Returns:
    {"fvd_mean", "fvd_std", "fvd_draws", "split", "num_videos", "num_draws", "seed", "truncation", "network",
     "num_conditioning_frames", "num_predicted_frames", "seconds"}.
  """
  if int(num_draws) < 1 or int(num_videos) < 2:
    raise ValueError(f"prediction FVD needs num_draws >= 1 and num_videos >= 2, got {num_draws}, {num_videos}")
  t0 = time.time()
  net = video_eval.get_feature_network(network, weights)
  values = []
  for d in range(int(num_draws)):
    real_stats = fake_stats = None
    for i, (context, future, _) in enumerate(clip_batches(config, split, int(num_videos), batch_size,
                                                          training=True, seed=int(seed) + d,
                                                          should_stop=should_stop)):
      predicted = predict(generator, context, seed=(int(seed) + d) * 1_000_003 + i, truncation=truncation,
                          batch_size=batch_size, should_stop=should_stop)
      real = _stats(to_uint8(np.concatenate([context, future], axis=1)), net, batch_size, should_stop)
      fake = _stats(to_uint8(np.concatenate([context, predicted], axis=1)), net, batch_size, should_stop)
      real_stats = real if real_stats is None else real_stats.merge(real)
      fake_stats = fake if fake_stats is None else fake_stats.merge(fake)
    values.append(_fvd(real_stats, fake_stats, net))
    log(f"  prediction FVD, {split} split, draw {d + 1}/{num_draws}: {values[-1]:.2f} "
        f"({time.time() - t0:.0f} s)")
  return {
      "fvd_mean": float(np.mean(values)), "fvd_std": float(np.std(values)), "fvd_draws": values,
      "split": split, "num_videos": int(num_videos), "num_draws": int(num_draws), "seed": int(seed),
      "truncation": float(truncation), "network": net.name,
      "num_conditioning_frames": int(config.data.num_conditioning_frames),
      "num_predicted_frames": int(config.num_frames), "seconds": round(time.time() - t0, 1),
  }


def demo_figures(config, trainer, build_models=None, log=print, should_stop=None) -> dict:
  """The tiny FP demo's figures (module docstring) as a dict; the keys `direction_accuracy_*`, `fvd_*`,
  `mse_*` for `trained`, `untrained` and `copy_last` are an interface (README, docs/training.md).
  `should_stop` (eval.interrupt) is checked between batches."""
  e = config.eval
  n, bs = int(e.num_videos), int(e.batch_size)
  t0 = time.time()
  net, untrained = network_and_untrained_generator(config, build_models, should_stop)
  context, future, labels = real_clips(config, "test", n, bs, training=False, should_stop=should_stop)
  t = future.shape[1]
  seed = samples_seed(config)
  predictions = {
      "trained": predict(trainer.G_ema, context, seed, float(e.truncation), bs, should_stop),
      "untrained": predict(untrained, context, seed, 1.0, bs, should_stop),
      "copy_last": copy_last_frame(context, t),
  }
  real_stats = _stats(to_uint8(np.concatenate([context, future], axis=1)), net, bs, should_stop)
  second_context, second_future, _ = real_clips(config, "validation", n, bs, training=False,
                                                should_stop=should_stop)
  second_stats = _stats(to_uint8(np.concatenate([second_context, second_future], axis=1)), net, bs, should_stop)
  figures = {}
  synthetic = config.data.name == "synthetic"
  if synthetic:
    figures["direction_accuracy_real"] = synthetic_data.class_cues(future, labels)["direction_accuracy"]
  for name, predicted in predictions.items():
    videos = to_uint8(np.concatenate([context, predicted], axis=1))
    figures[f"fvd_{name}"] = _fvd(real_stats, _stats(videos, net, bs, should_stop), net)
    mse = per_frame_mse(predicted, future)
    figures[f"mse_{name}"] = float(np.mean(mse))
    figures[f"mse_per_frame_{name}"] = [float(v) for v in mse]
    if synthetic:
      # Read from the uint8 frames a viewer sees (as the synthesis demo does).
      frames = to_uint8(predicted).astype(np.float32) / 127.5 - 1.0
      figures[f"direction_accuracy_{name}"] = synthetic_data.class_cues(frames, labels)["direction_accuracy"]
    log(f"  {name}: I3D features of {n} videos ({time.time() - t0:.0f} s)")
  figures.update({
      "fvd_real_vs_real": _fvd(real_stats, second_stats, net),
      "num_videos": n, "num_conditioning_frames": int(context.shape[1]), "num_predicted_frames": int(t),
      "network": net.name, "step": int(trainer.step.numpy()), "seconds": round(time.time() - t0, 1),
  })
  if synthetic:
    log("direction of the predicted frames read back from the pixels (true continuation: "
        f"{figures['direction_accuracy_real']:.2f}): trained EMA {figures['direction_accuracy_trained']:.2f} | "
        f"untrained {figures['direction_accuracy_untrained']:.2f} | copy last frame "
        f"{figures['direction_accuracy_copy_last']:.2f}")
  log(f"FVD of [conditioning; predicted] against {n} real clips (I3D {net.name} logits): trained EMA "
      f"{figures['fvd_trained']:.1f} | untrained {figures['fvd_untrained']:.1f} | copy last frame "
      f"{figures['fvd_copy_last']:.1f} | second real set {figures['fvd_real_vs_real']:.1f}")
  log(f"per-frame MSE of the predicted frames (pixels in [-1, 1]): trained EMA {figures['mse_trained']:.4f} | "
      f"untrained {figures['mse_untrained']:.4f} | copy last frame {figures['mse_copy_last']:.4f}")
  return figures
