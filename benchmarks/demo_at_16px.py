"""Scores 32x32 demo runs at 16x16, against the 16x16 demo's real videos: the before/after of the grown demo.

    python benchmarks/demo_at_16px.py --workdirs=runs/demo[,runs/other] [--checkpoints=last|STEP,...]
        [--draws=N] [--truncation=T] [--noise=LEVELS,...] [--json=OUT.json]

FVDs of videos at two resolutions do not compare (I3D sees a 16x16 video blurrier than a 32x32 one), so the
32x32 demo (experiments/demo.py) is also scored where the 16x16 demo (experiments/tiny.py) was: each run's
last checkpoint's (or those of --checkpoints: steps of a run trained with a larger train.keep_checkpoints)
EMA generator (standing statistics, truncation, seed and 64 samples as the end-of-run
figures: dvd_gan.evaluation.figures), its samples 2x2-averaged to 16x16, FVD (Kinetics-400 I3D logits)
against the first 64 real `test` videos rendered at 16x16, the reference of the 16x16 demo's end-of-run
figures. Also printed: real against real at 16x16 (`validation` vs `test`, the 16x16 demo's figure (c)) and
real 32x32 `test` videos averaged to 16x16 against the same reference (how far the averaging alone moves).

An FVD of 64 samples moves by itself with the samples drawn (one checkpoint of the demo: 146.7, 127.1, 112.7,
120.7 for four seeds). `--draws=N` also scores N-1 more sets of 64 samples of each checkpoint (seeds seed+3,
seed+4, ...) and prints their mean: the same 64-sample FVD with its sampling noise averaged down. The first set is
always the end-of-run figures' (`fvd_16`); the JSON adds every draw and their mean. `--truncation=T` samples
with z ~ N(0, T^2) instead of the run's eval.truncation (training does not depend on it, so one run answers
how its samples score at other truncations).

Each set of samples also gets its background flicker (`dvd_gan.data.synthetic.background_flicker`: the mean
frame-to-frame change of the pixels the shape never reaches, in 8-bit levels; real videos: 0), and the first set
also the FVD of the same samples with their background held still (`synthetic.hold_background`): how much of
the run's figure is that flicker. `--noise=1,2` shows how I3D takes unstructured flicker: the real `validation`
videos with Gaussian noise of 1 and 2 levels added to every pixel of every frame (drawn anew each frame, seed 0,
rounded to 8 bits), scored against the same reference. And the first set's class cues, read at 32x32 as the
end-of-run figures read them (`dvd_gan.evaluation.figures.sample_class_cues`; of the last checkpoint, the run's
own figures again).
"""
import os
import sys

import numpy as np
from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

import eval as video_eval  # noqa: E402
from dvd_gan import run_folder  # noqa: E402
from dvd_gan.config import resolve_config  # noqa: E402
from dvd_gan.data import synthetic  # noqa: E402
from dvd_gan.evaluation import figures as evaluation  # noqa: E402
from eval import command, io  # noqa: E402

NUM_VIDEOS, BATCH = 64, 16


def define_flags(fv, argv):
  del argv
  flags.DEFINE_list("workdirs", None, "Training runs of a 32x32 synthetic config (e.g. runs/demo).",
                    flag_values=fv)
  flags.DEFINE_list("checkpoints", ["last"], "Checkpoints of every run to score: last, or step numbers.",
                    flag_values=fv)
  flags.DEFINE_integer("draws", 1, "Sets of 64 samples scored per checkpoint (the first: the end-of-run "
                       "figures' seed; the mean is printed).", flag_values=fv)
  flags.DEFINE_float("truncation", None, "Sample with this truncation instead of the run's eval.truncation.",
                     flag_values=fv)
  flags.DEFINE_list("noise", [], "Also score the real validation videos with Gaussian noise of these 8-bit "
                    "levels added to every pixel of every frame.", flag_values=fv)
  flags.DEFINE_string("json", None, "Also write the figures here as JSON.", flag_values=fv)


def average_2x2(videos):
  """uint8 [N, T, H, W, C] -> uint8 [N, T, H/2, W/2, C], the mean of each 2x2 block, rounded."""
  n, t, h, w, c = videos.shape
  blocks = videos.reshape(n, t, h // 2, 2, w // 2, 2, c).astype(np.float64)
  return np.round(blocks.mean(axis=(3, 5))).astype(np.uint8)


def flicker(videos) -> float:
  """`synthetic.background_flicker` (8-bit levels) of uint8 videos [N, T, H, W, 3]."""
  return round(synthetic.background_flicker(videos.astype(np.float32) / 127.5 - 1.0), 2)


def hold_background(videos):
  """uint8 videos [N, T, H, W, 3] with their background held still (`synthetic.hold_background`), rounded."""
  held = synthetic.hold_background(videos.astype(np.float64) / 127.5 - 1.0)
  return np.clip(np.round((held + 1.0) * 127.5), 0, 255).astype(np.uint8)


def add_noise(videos, levels: float, seed: int = 0):
  """uint8 videos plus Gaussian noise of standard deviation `levels` (8-bit levels), drawn anew for every pixel
  of every frame, rounded and clipped to uint8."""
  noise = np.random.default_rng(seed).normal(0.0, levels, videos.shape)
  return np.clip(np.round(videos.astype(np.float64) + noise), 0, 255).astype(np.uint8)


def draw_seeds(config, draws: int) -> list:
  """The sampling seeds of `draws` sets: the end-of-run figures' first, then the next ones."""
  first = evaluation.samples_seed(config)
  return [first + i for i in range(draws)]


def body(fv, args):
  del args
  command.require(fv, "workdirs")
  if fv.draws < 1:
    raise command.UsageError(f"--draws must be at least 1, got {fv.draws}")
  if fv.truncation is not None and fv.truncation <= 0:
    raise command.UsageError(f"--truncation must be positive, got {fv.truncation}")
  try:
    noise = [float(x) for x in fv.noise]
  except ValueError:
    raise command.UsageError(f"--noise takes numbers (8-bit levels), got {','.join(fv.noise)}") from None
  if any(x <= 0 for x in noise):
    raise command.UsageError(f"--noise levels must be positive, got {','.join(fv.noise)}")
  if fv.json and io.missing_output_folder(fv.json):
    raise command.UsageError(f"output directory does not exist: {io.missing_output_folder(fv.json)}")
  configs = {}
  for workdir in fv.workdirs:
    c = resolve_config(run_folder.load_config(workdir, not_found="--workdir is not a training run folder"))
    if int(c.resolution) != 32 or c.data.name != "synthetic":
      raise command.UsageError(f"{workdir}: a run of a 32x32 synthetic config is needed, got "
                               f"{c.data.name} at {c.resolution}x{c.resolution}")
    configs[workdir] = c
  c32 = next(iter(configs.values()))
  c16 = c32.copy_and_resolve_references()
  c16.resolution = 16
  net = video_eval.get_feature_network(c32.eval.network, None)

  def stats(videos):
    return video_eval.compute_stats(videos, network=net, batch_size=BATCH)

  def fvd(a, b):
    return round(float(video_eval.compute_metric("fvd", a, b, network=net).value), 1)

  reference = stats(evaluation.real_videos(c16, "test", NUM_VIDEOS, BATCH))
  validation = evaluation.real_videos(c16, "validation", NUM_VIDEOS, BATCH)
  out = {"real_16_validation": fvd(reference, stats(validation)),
         "real_32_test_averaged": fvd(reference, stats(average_2x2(
             evaluation.real_videos(c32, "test", NUM_VIDEOS, BATCH)))),
         "runs": {}}
  print(f"FVD at 16x16 against {NUM_VIDEOS} real test videos: real validation videos {out['real_16_validation']}, "
        f"real 32x32 test videos averaged {out['real_32_test_averaged']}", flush=True)
  for levels in noise:
    noisy = add_noise(validation, levels)
    figure = {"fvd_16": fvd(reference, stats(noisy)), "background_flicker": flicker(noisy)}
    out.setdefault("real_16_validation_noise", {})[str(levels)] = figure
    print(f"real validation videos with noise of {levels} levels: FVD {figure['fvd_16']}, background flicker "
          f"{figure['background_flicker']} levels", flush=True)
  for workdir, c in configs.items():
    truncation = float(c.eval.truncation if fv.truncation is None else fv.truncation)
    for which in fv.checkpoints:
      path, _ = run_folder.resolve_checkpoint(workdir, which)
      g = run_folder.sampling_generator(run_folder.restore_ema_generator(c, path), c)
      scores, flickers = [], []
      for seed in draw_seeds(c, fv.draws):
        videos_32, labels = evaluation.generated_videos(g, c, NUM_VIDEOS, BATCH, seed, truncation)
        videos = average_2x2(videos_32)
        if not scores:
          cues = evaluation.sample_class_cues(videos_32, labels)   # at 32x32, as the end-of-run figures
          still = fvd(reference, stats(hold_background(videos)))
        scores.append(fvd(reference, stats(videos)))
        flickers.append(flicker(videos))
      step = run_folder.checkpoint_step(path)
      key = workdir if fv.checkpoints == ["last"] else f"{workdir}@{step}"
      out["runs"][key] = {"step": step, "truncation": truncation, "fvd_16": scores[0],
                          "background_flicker": flickers[0], "fvd_16_background_held": still, **cues}
      line = (f"{workdir} (step {step}, truncation {truncation}): EMA samples averaged to 16x16: FVD {scores[0]}, "
              f"background flicker {flickers[0]} levels, FVD with the background held still {still}, class cues "
              f"(direction / shape, 32x32) {cues['direction_accuracy']:.2f} / {cues['shape_accuracy']:.2f}")
      if fv.draws > 1:
        out["runs"][key].update(fvd_16_draws=scores, fvd_16_mean=round(float(np.mean(scores)), 1),
                                background_flicker_draws=flickers)
        line += f"; {fv.draws} draws {', '.join(map(str, scores))}: mean {out['runs'][key]['fvd_16_mean']}"
      print(line, flush=True)
  if fv.json:
    io.write_json(fv.json, out)
  return 0


def main(argv=None) -> int:
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
