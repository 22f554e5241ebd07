"""End-of-run FVD figures (Kinetics-400 I3D logits, via the `eval` package).

Three figures, each against the same reference set of N real videos (`splits`: split "test" of the
synthetic data; a video folder's evaluation split, data.eval_split, its held-out videos):

  fvd_untrained_generator  N samples of a freshly initialised generator (the starting point; its weights
                           are seeded by config.seed, so the figure repeats from run to run)
  fvd_ema_generator        N samples of the trained EMA generator G_ema (with standing statistics when
                           eval.standing_stats_batches > 0: dvd_gan/standing_stats.py)
  fvd_real_vs_real         N other real videos (split "validation"; a video folder's training videos): the
                           floor a perfect generator reaches

N is eval.num_videos, or the size of the reference split when it has fewer (a folder's held-out split); the
second real set may then be smaller than N too.

A generator that learned the data has fvd_ema_generator far nearer fvd_real_vs_real than
fvd_untrained_generator. Samples are scored as uint8 arrays straight from the generator (no video encoding).

On the synthetic dataset the figures also say whether the samples show their class, read back from the
pixels (`dvd_gan.data.synthetic.class_cues`): direction_accuracy_* and shape_accuracy_* of the untrained and
the EMA generator's samples (real videos score 1.0; chance is 0.25 and 0.5).
"""
import time

import numpy as np
import tensorflow as tf

from dvd_gan import standing_stats
from dvd_gan.evaluation import scorer
from dvd_gan.evaluation.untrained import network_and_untrained_generator, samples_seed
from dvd_gan.training.summaries import to_uint8
from dvd_gan import data as data_lib
from dvd_gan.data import synthetic
import eval as video_eval
from eval.interrupt import check as check_stop


def splits(config) -> tuple:
  """(reference split, second real split) of the figures: the synthetic data's "test" and "validation"; a
  video folder's evaluation split (the one its protocols score against) and its training split."""
  if config.data.name == "video_folder":
    return config.data.eval_split, "train"
  return "test", "validation"


def real_videos(config, split: str, num_videos: int, batch_size: int, should_stop=None,
                fewer: bool = False) -> np.ndarray:
  """uint8 [N, T, H, W, 3] real videos of `split` (dvd_gan.data.make_dataset, evaluation mode); `fewer`:
  all of them when the split has fewer than `num_videos` (else a ValueError). `should_stop` (eval.interrupt)
  is checked before every batch."""
  cfg = config.copy_and_resolve_references()
  cfg.batch_size = batch_size
  ds = data_lib.make_dataset(cfg, split=split, training=False)
  out, n = [], 0
  for batch in ds:
    check_stop(should_stop, f"real videos of {split}")
    out.append(to_uint8(batch["video"].numpy()))
    n += out[-1].shape[0]
    if n >= num_videos:
      break
  if not out:
    raise ValueError(f"split {split!r} has no video")
  videos = np.concatenate(out)[:num_videos]
  if videos.shape[0] < num_videos and not fewer:
    raise ValueError(f"split {split!r} has only {videos.shape[0]} videos, eval.num_videos is {num_videos}")
  return videos


def generated_videos(generator, config, num_videos: int, batch_size: int, seed: int,
                     truncation: float = 1.0, should_stop=None):
  """Samples of `generator` (inference mode), z ~ N(0, truncation^2), y uniform: (uint8 [N, T, H, W, 3],
  labels [N] int or None when unconditional). `should_stop` (eval.interrupt) is checked before every batch."""
  z, y = scorer.latents(config, num_videos, seed, truncation)  # the scorer's latents (stream EVALUATION)

  @tf.function
  def sample(zb, yb):
    return tf.cast(generator(zb, yb, training=False), tf.float32)

  out = []
  for i in range(0, num_videos, batch_size):
    check_stop(should_stop, "samples")
    yb = y[i:i + batch_size] if y is not None else None
    out.append(to_uint8(sample(z[i:i + batch_size], yb).numpy()))
  return np.concatenate(out), (None if y is None else y.numpy())


def sample_class_cues(videos, labels) -> dict:
  """direction_accuracy and shape_accuracy (`dvd_gan.data.synthetic.class_cues`) of uint8 samples
  [N, T, H, W, 3] of classes labels [N]: the share that moves in its class's direction, that has its shape."""
  cues = synthetic.class_cues(videos.astype(np.float32) / 127.5 - 1.0, labels)
  return {key: cues[key] for key in ("direction_accuracy", "shape_accuracy")}


def synthetic_class_cues(untrained_videos, untrained_labels, ema_videos, ema_labels) -> dict:
  """`sample_class_cues` of the untrained and EMA samples, as direction_accuracy_untrained, ..._ema, ..."""
  out = {}
  for name, videos, labels in (("untrained", untrained_videos, untrained_labels),
                               ("ema", ema_videos, ema_labels)):
    out.update({f"{key}_{name}": value for key, value in sample_class_cues(videos, labels).items()})
  return out


def demo_figures(config, trainer, build_models=None, log=print, real_reference=None, sampler=None,
                 network=None, should_stop=None) -> dict:
  """Computes the three FVD figures of the module docstring; returns them with the settings as a dict.

  real_reference: the statistics (eval.FeatureStats, logits of e.network) of the reference set when they are
  already at hand (the periodic evaluation's cached real statistics of the same videos); else computed here.
  sampler: the generator that samples for trainer.G_ema at its current step when already at hand (the one the
  periodic evaluation of that step built: `standing_stats.sampling_generator(trainer.G_ema, config)`); else
  built here.
  network: the feature network of eval.network when already built (the periodic evaluation's); else built here.
  should_stop: `() -> bool` checked between batches (eval.interrupt: True raises Interrupted, no figures).
  """
  e = config.eval
  n, bs = int(e.num_videos), int(e.batch_size)
  reference_split, second_split = splits(config)
  t0 = time.time()
  net, untrained = network_and_untrained_generator(config, build_models, should_stop, network)
  sets = {}
  if real_reference is None:
    sets["real_reference"] = real_videos(config, reference_split, n, bs, should_stop, fewer=True)
    n = sets["real_reference"].shape[0]
  elif real_reference.num_items > n or real_reference.metadata.get("network") != net.name:
    raise ValueError(f"real_reference: statistics of {real_reference.num_items} videos of "
                     f"{real_reference.metadata.get('network')}; the figures need {n} of {net.name}")
  else:
    n = real_reference.num_items  # fewer than eval.num_videos: the whole of a small evaluation split
  untrained_videos, untrained_labels = generated_videos(untrained, config, n, bs, samples_seed(config),
                                                        should_stop=should_stop)
  if sampler is None:
    sampler = standing_stats.sampling_generator(trainer.G_ema, config, log=log, should_stop=should_stop)
  else:
    log("  EMA generator: the one the evaluation of this step sampled with (its standing statistics reused)")
  ema_videos, ema_labels = generated_videos(sampler, config, n, bs, samples_seed(config), float(e.truncation),
                                            should_stop=should_stop)
  sets.update(real_second=real_videos(config, second_split, n, bs, should_stop, fewer=True),
              untrained_generator=untrained_videos, ema_generator=ema_videos)
  stats = {}
  if real_reference is not None:
    stats["real_reference"] = real_reference
    source = real_reference.metadata.get("source")
    log(f"  I3D features of {n} videos: real_reference (cached real statistics {source})")
  for name, videos in sets.items():
    stats[name] = video_eval.compute_stats(videos, network=net, batch_size=bs, store_features=True,
                                           should_stop=should_stop)
    log(f"  I3D features of {videos.shape[0]} videos: {name} ({time.time() - t0:.0f} s)")

  def fvd(name):
    return float(video_eval.compute_metric("fvd", stats["real_reference"], stats[name], network=net).value)

  figures = {
      "fvd_untrained_generator": fvd("untrained_generator"),
      "fvd_ema_generator": fvd("ema_generator"),
      "fvd_real_vs_real": fvd("real_second"),
      "num_videos": n,
      "splits": [reference_split, second_split],
      "network": net.name,
      "step": int(trainer.step.numpy()),
      "standing_stats_batches": standing_stats.settings(config)["batches"],
      "seconds": round(time.time() - t0, 1),
  }
  if config.data.name == "synthetic" and ema_labels is not None:
    figures.update(synthetic_class_cues(untrained_videos, untrained_labels, ema_videos, ema_labels))
    log(f"class read back from the pixels (synthetic data; real videos score 1.00): direction accuracy "
        f"untrained {figures['direction_accuracy_untrained']:.2f} | EMA {figures['direction_accuracy_ema']:.2f}; "
        f"shape accuracy untrained {figures['shape_accuracy_untrained']:.2f} | "
        f"EMA {figures['shape_accuracy_ema']:.2f}")
  log(f"FVD against {n} real videos (I3D {net.name} logits): untrained G {figures['fvd_untrained_generator']:.1f}"
      f" | trained EMA G {figures['fvd_ema_generator']:.1f} | second real set {figures['fvd_real_vs_real']:.1f}")
  return figures
