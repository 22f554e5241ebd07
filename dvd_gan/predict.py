"""Command line: continue videos with a trained DVD-GAN-FP generator (docs/export.md, "Prediction").

    python -m dvd_gan.predict --workdir=DIR --videos=PATH --out=OUT_DIR [--num=N --seed=S --format=mp4|npy]
    python -m dvd_gan.predict --saved_model=EXPORT_DIR --videos=PATH --out=OUT_DIR [...]
    (console command: dvd-gan-predict)

For each input video (PATH: a folder, a file or a glob of any format `eval` reads: mp4/avi/webm/mov/mkv, gif,
.npy/.npz arrays `[T, H, W, 3]` or `[N, T, H, W, 3]`), the first C frames (C = the run's
data.num_conditioning_frames, taken at the run's data.stride) are brought to the model's resolution as the
evaluation pipeline does (bilinear resize of the shorter side, centre crop; nothing happens to frames that
already have the size) and G_ema predicts the T frames that follow. Each output video holds the C
conditioning frames followed by the T predicted ones, uint8 `[C + T, H, W, 3]`:

  OUT_DIR/000000.mp4 ...      one file per input video, in input order (--format=npy: .npy arrays, which
                              `python -m eval` reads without the lossy mp4 round trip)
  OUT_DIR/predictions.json    source model, step, seed, truncation, and for each output its input video
  OUT_DIR/COMPLETE            written last (eval.io.publish_dir): OUT_DIR is complete

Randomness: batch j (of --batch_size videos) draws z from seed S + j, exactly as the export's
`predict(frames, seed=S + j, truncation)`, so --workdir and --saved_model give the same videos for the same
checkpoint, seed and batch size. OUT_DIR is written under a temporary name and renamed into place: it is
either absent, the previous output (--overwrite), or complete.
"""
import os
import sys

from absl import flags

from eval import command
from eval import io as eio
from dvd_gan.errors import UserError
from eval import video_io
from eval import video_writer
from eval.video_writer import to_uint8
from tqdm import tqdm
import numpy as np

FORMATS = ("mp4", "npy", "gif")
MANIFEST = "predictions.json"


def define_flags(fv, argv):
  del argv
  flags.DEFINE_string("workdir", None, "Training run folder (config.json, checkpoints/) of a DVD-GAN-FP run.",
                      flag_values=fv)
  flags.DEFINE_string("saved_model", None, "Export folder of a DVD-GAN-FP run (python -m dvd_gan.export).",
                      flag_values=fv)
  flags.DEFINE_string("videos", None, "Input videos: a folder, a file or a glob (formats of `eval`).",
                      flag_values=fv)
  flags.DEFINE_string("out", None, "Output folder (absent, or replaced with --overwrite).", flag_values=fv)
  flags.DEFINE_integer("num", None, "Continue only the first N input videos.", lower_bound=1, flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Seed of z (batch j uses seed + j).", flag_values=fv)
  flags.DEFINE_float("truncation", 1.0, "z ~ N(0, truncation^2 I) (docs/paper.md: 0.44 for truncated samples).",
                     lower_bound=0.0, flag_values=fv)
  flags.DEFINE_enum("format", "mp4", list(FORMATS), "Output file format.", flag_values=fv)
  flags.DEFINE_integer("batch_size", 8, "Videos per generator call.", lower_bound=1, flag_values=fv)
  flags.DEFINE_float("fps", 8.0, "Frame rate of mp4 / gif outputs.", lower_bound=0.1, flag_values=fv)
  flags.DEFINE_bool("overwrite", False, "Replace an existing --out.", flag_values=fv)
  flags.DEFINE_bool("progress", True, "Progress bar on stderr.", flag_values=fv)


# ---- the loaded predictor ----------------------------------------------------------------------------------

class LoadedPredictor:
  """A frame-prediction generator loaded from an export or a run folder: `predict(frames uint8 [N, C, H, W, 3],
  seed, truncation) -> uint8 [N, C + T, H, W, 3]` and its facts."""

  def __init__(self, fn, meta):
    self._fn = fn
    self.meta = meta
    self.num_conditioning_frames = int(meta["num_conditioning_frames"])
    self.resolution = int(meta["resolution"])
    self.stride = int(meta.get("stride", 1))
    self.max_batch_size = meta.get("max_batch_size")  # None: an export that predates the bound
    self.from_workdir = False  # a run folder: served with the export's default bound, no flag of the user's

  def predict(self, frames, seed: int, truncation: float):
    import tensorflow as tf  # noqa: PLC0415 - TensorFlow loads after the flags are checked
    out = self._fn(frames=tf.constant(frames, tf.uint8), seed=tf.constant(seed, tf.int64),
                   truncation=tf.constant(truncation, tf.float32))
    return out["video_uint8"].numpy()


def load_from_workdir(workdir: str) -> LoadedPredictor:
  """G_ema of the newest checkpoint of a DVD-GAN-FP run, behind the export's `predict` function."""
  from dvd_gan import generators, run_folder  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  import tensorflow as tf  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  config = run_folder.load_config(workdir)
  num_context = run_folder.num_conditioning_frames(config)
  if num_context < 1:
    raise UserError(f"{workdir} is not a DVD-GAN-FP run (data.num_conditioning_frames = 0): it synthesises "
                    "videos without conditioning frames; use python -m dvd_gan.sample / export instead")
  run = run_folder.open_run(workdir, "last", config=config)
  checkpoint, step = run.checkpoint, run.step
  predictor = generators.Predictor(run.generator)
  fn = tf.function(predictor.predict)
  meta = {"source": os.path.abspath(workdir) if not eio.has_scheme(workdir) else workdir, "step": step,
          "max_batch_size": int(predictor.max_batch_size.numpy()),
          "checkpoint": checkpoint, "num_conditioning_frames": num_context,
          "num_frames": int(config.num_frames), "resolution": int(config.resolution),
          "stride": int(config.data.stride)}
  model = LoadedPredictor(fn, meta)
  model.from_workdir = True
  return model


def load_from_saved_model(path: str) -> LoadedPredictor:
  """The `predict` signature of an export of a DVD-GAN-FP run."""
  from dvd_gan.generators import META_FILE  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  meta_path = eio.join(path, META_FILE)
  if not eio.exists(meta_path):
    raise UserError(f"{meta_path} not found: not an export of dvd_gan.export")
  try:
    meta = eio.read_json(meta_path)
  except ValueError as e:
    raise UserError(f"cannot read {meta_path}: {command.one_line(e)}") from None
  if int(meta.get("num_conditioning_frames", 0) or 0) < 1 or "predict" not in meta.get("signatures", {}):
    raise UserError(f"{path} is not an export of a DVD-GAN-FP run (no `predict` signature): it synthesises "
                    "videos without conditioning frames")
  import tensorflow as tf  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  try:
    loaded = tf.saved_model.load(path)
  except (OSError, ValueError, tf.errors.OpError) as e:
    raise UserError(f"cannot load the SavedModel {path}: {command.one_line(e)[:300]}") from None
  fn = loaded.signatures["predict"]
  config = meta.get("config", {})
  info = {"source": path, "step": meta.get("step"), "checkpoint": meta.get("checkpoint"),
          "num_conditioning_frames": int(meta["num_conditioning_frames"]), "num_frames": int(meta["num_frames"]),
          "resolution": int(meta["resolution"]), "stride": int(config.get("data", {}).get("stride", 1)),
          "max_batch_size": meta.get("max_batch_size")}
  model = LoadedPredictor(fn, info)
  model._loaded = loaded  # keeps the SavedModel's variables alive
  return model


# ---- inputs ----------------------------------------------------------------------------------------------

def to_model_frames(video, resolution: int):
  """Frames `[C, h, w, 3]` (uint8, or float in [0, 255]) -> uint8 `[C, resolution, resolution, 3]`: the
  evaluation pipeline's bilinear shorter-side resize and centre crop (dvd_gan.data.preprocessing), skipped
  when the frames already have the size."""
  if video.shape[1] == resolution and video.shape[2] == resolution and video.dtype == np.uint8:
    return video
  from dvd_gan.data import preprocessing  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  return to_uint8(preprocessing.spatial_preprocess(video, resolution, None).numpy())    # from [-1, 1]


def iter_conditioning_frames(path: str, model: LoadedPredictor, num=None):
  """Yields (input name, uint8 [C, H, W, 3]) for the first `num` videos of `path`."""
  c = model.num_conditioning_frames
  for i, (name, video) in enumerate(video_io.iter_videos(path, frames=c, stride=model.stride)):
    if num is not None and i >= num:
      return
    yield name, to_model_frames(video, model.resolution)


# ---- the command -----------------------------------------------------------------------------------------

def _batches(items, size):
  batch = []
  for item in items:
    batch.append(item)
    if len(batch) == size:
      yield batch
      batch = []
  if batch:
    yield batch


def predict_videos(model: LoadedPredictor, videos: str, out: str, *, num=None, seed=0, truncation=1.0, fmt="mp4",
                   batch_size=8, fps=8.0, overwrite=False, progress=True) -> dict:
  """Writes the continuations of the videos of `videos` to the folder `out` (module docstring); returns the
  manifest."""

  if eio.exists(out) and not overwrite:
    raise UserError(f"--out {out} exists (pass --overwrite to replace it)")
  if model.max_batch_size is not None and int(batch_size) > int(model.max_batch_size):
    # Not split silently: batch j draws z from seed + j, so the batch size is part of what the videos are.
    where = ("the bound a run folder is served with, the default of python -m dvd_gan.export" if model.from_workdir
             else "python -m dvd_gan.export --max_batch_size")
    raise UserError(f"--batch_size {batch_size} is above the model's maximum of {model.max_batch_size} videos "
                    f"per call ({where}): lower --batch_size")
  tmp = eio.temporary_dir(out)
  eio.makedirs(tmp)
  entries = []
  try:
    with tqdm(total=num, unit="video", file=sys.stderr, disable=not progress, desc="predict",
              dynamic_ncols=True) as bar:
      for j, batch in enumerate(_batches(iter_conditioning_frames(videos, model, num), batch_size)):
        frames = np.stack([f for _, f in batch])
        result = model.predict(frames, int(seed) + j, float(truncation))       # [b, C + T, H, W, 3]
        for (name, _), video in zip(batch, result):
          file = f"{len(entries):06d}.{fmt}"
          video_writer.write_video(eio.join(tmp, file), video, fps=fps)
          entries.append({"file": file, "input": name, "batch": j})
          bar.update(1)
    if not entries:
      raise UserError(f"no videos in {videos}")
    manifest = dict(model.meta, seed=int(seed), truncation=float(truncation), batch_size=int(batch_size),
                    format=fmt, num_videos=len(entries), frames_per_video=model.num_conditioning_frames +
                    int(model.meta["num_frames"]), videos=entries)
    eio.write_json(eio.join(tmp, MANIFEST), manifest)
    eio.publish_dir(tmp, out, overwrite=overwrite)
  finally:
    if eio.exists(tmp):
      import tensorflow as tf  # noqa: PLC0415 - TensorFlow loads after the flags are checked
      tf.io.gfile.rmtree(tmp)
  return manifest


def body(fv, args) -> int:
  del args
  command.require(fv, "videos", "out")
  if bool(fv.workdir) == bool(fv.saved_model):
    raise command.UsageError("give exactly one of --workdir and --saved_model")
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  model = load_from_workdir(fv.workdir) if fv.workdir else load_from_saved_model(fv.saved_model)
  manifest = predict_videos(model, fv.videos, fv.out, num=fv.num, seed=fv.seed, truncation=fv.truncation,
                            fmt=fv.format, batch_size=fv.batch_size, fps=fv.fps, overwrite=fv.overwrite,
                            progress=fv.progress)
  print(f"wrote {manifest['num_videos']} videos of {manifest['frames_per_video']} frames "
        f"({model.num_conditioning_frames} conditioning + {model.meta['num_frames']} predicted) to {fv.out}",
        flush=True)
  return 0


def main(argv=None) -> int:
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


def run():
  """Console entry point (setup.py: dvd-gan-predict)."""
  command.run(main)


if __name__ == "__main__":
  run()
