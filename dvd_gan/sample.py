"""Sample videos from a trained or exported DVD-GAN (docs/sampling.md).

    python -m dvd_gan.sample --saved_model=EXPORT_DIR --out=DIR [--classes=3,17|NAME,NAME|all] [--num=N]
        [--truncation=0.44] [--truncation_mode=scale|resample] [--seed=S] [--format=mp4|gif|npy] [--fps=F]
        [--scale=S] [--grid] [--interpolate=latent|class --steps=K]
    python -m dvd_gan.sample --workdir=RUN_DIR --out=DIR ...        (the run's latest G_ema, built in-process)

Writes into --out (created; any filesystem, e.g. gs://; files of the same names are replaced):
  plain samples     NNNN[_cCCC_NAME].mp4|gif, one per video (--classes: --num per class, class-major; else
                    --num videos of random classes), or with --format=npy one videos.npy uint8 [N, T, H, W, 3]
                    (the file to score with `python -m eval`: mp4 is lossy, never score re-encoded mp4);
                    --grid adds grid.<format> (a row per class, a column per sample) and grid.png (a row per
                    video, a column per frame).
  --interpolate     interpolation_<latent|class>_PPP_<classes>.<format> (a video whose rows are the K
                    steps; npy: [K, T, H, W, 3]) and .png (a frame strip: a row per step, a column per frame);
                    latent: from z_2p to z_2p+1 at each class (--num pairs); class: at z_j (--num), between
                    consecutive --classes. --grid adds grid.<format> (a column per path, a row per step).
  samples.json      the settings and, per file, its classes (written last).
Truncation: scale: z ~ N(0, t^2 I) (the paper's truncated figures: t = 0.44; 1: none; 0: z = 0); resample:
BigGAN's, components of z ~ N(0, I) with |z| > t redrawn (t > 0). The same --seed gives the same videos.
From a SavedModel only TensorFlow and this command run (the signatures do the work).
"""
import re

from absl import flags

from eval import command
from eval import io as eio
from eval import video_writer

FORMATS = ("mp4", "gif", "npy")


def define_flags(fv, argv):
  flags.DEFINE_string("workdir", None, "Training run folder: sample its latest G_ema.", flag_values=fv)
  flags.DEFINE_string("saved_model", None, "Export folder written by python -m dvd_gan.export.", flag_values=fv)
  flags.DEFINE_string("out", None, "Output folder (created; may be gs://).", flag_values=fv)
  flags.DEFINE_integer("num", 4, "Videos per class (--classes), videos (no --classes), or interpolation "
                       "paths per class (pair) with --interpolate.", lower_bound=1, flag_values=fv)
  flags.DEFINE_string("classes", None, "Comma-separated class ids or names, or 'all'; default: random "
                      "classes.", flag_values=fv)
  flags.DEFINE_float("truncation", 0.44, "scale: sigma of z (1 = untruncated, 0 = z = 0); resample: the "
                     "threshold on |z|.", lower_bound=0.0, flag_values=fv)
  flags.DEFINE_enum("truncation_mode", "scale", ["scale", "resample"], "How z is truncated.", flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Seed of z (and of the random classes).", flag_values=fv)
  flags.DEFINE_enum("format", "mp4", list(FORMATS), "Video file format.", flag_values=fv)
  flags.DEFINE_float("fps", 8.0, "Frames per second of mp4 / gif.", lower_bound=0.1, flag_values=fv)
  flags.DEFINE_integer("scale", 1, "Integer nearest-neighbour upscaling of mp4 / gif / png (npy is never "
                       "scaled).", lower_bound=1, upper_bound=16, flag_values=fv)
  flags.DEFINE_bool("grid", False, "Also write one grid video (a row per class).", flag_values=fv)
  flags.DEFINE_enum("interpolate", None, ["latent", "class"], "Write interpolation videos instead of samples.",
                    flag_values=fv)
  flags.DEFINE_integer("steps", 8, "Interpolation steps (>= 2).", lower_bound=2, flag_values=fv)
  flags.DEFINE_integer("batch_size", 16, "Videos per generator call.", lower_bound=1, flag_values=fv)
  flags.DEFINE_bool("progress", True, "Show a progress bar over batches (stderr).", flag_values=fv)


def _slug(text: str) -> str:
  return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_")[:40]


def _class_tag(model, label) -> str:
  if label is None:
    return ""
  if isinstance(label, tuple):
    return "_" + "-".join(f"c{c:03d}" for c in label)
  name = _slug(model.class_names[label]) if model.class_names else ""
  return f"_c{label:03d}" + (f"_{name}" if name else "")


class _Writer:
  """Writes videos / images into `out` in one format and lists them for samples.json."""

  def __init__(self, out, fmt, fps, scale):
    self.out, self.fmt, self.fps, self.scale = out, fmt, fps, scale
    self.files = []

  def video(self, stem, frames_uint8, **info):
    path = eio.join(self.out, f"{stem}.{self.fmt}")
    video_writer.write_video(path, frames_uint8, fps=self.fps, scale=1 if self.fmt == "npy" else self.scale)
    self.files.append(dict(file=eio.basename(path), **info))

  def png(self, stem, image_uint8, **info):
    path = eio.join(self.out, f"{stem}.png")
    video_writer.write_png(path, image_uint8, scale=self.scale)
    self.files.append(dict(file=eio.basename(path), **info))

  def npy(self, stem, videos_uint8, **info):
    path = eio.join(self.out, f"{stem}.npy")
    video_writer.write_videos_npy(path, videos_uint8)
    self.files.append(dict(file=eio.basename(path), **info))


def _label_info(model, label):
  if label is None:
    return {}
  if isinstance(label, tuple):
    return {"classes": list(label), "class_names": [model.class_name(c) for c in label]}
  return {"class": int(label), "class_name": model.class_name(label)}


def write_plain(model, samples, writer, grid: bool, by_class: bool) -> None:
  """Plain samples: one file per video (or videos.npy) and, with `grid`, grid.<format> + grid.png."""
  v = video_writer.to_uint8(samples.videos)
  if by_class:  # [C, N, ...]
    flat = v.reshape((-1,) + v.shape[2:])
    labels = [c for c in samples.labels for _ in range(v.shape[1])]
  else:
    flat = v
    labels = samples.labels if samples.labels is not None else [None] * len(v)
  if writer.fmt == "npy":
    writer.npy("videos", flat, videos=[_label_info(model, l) for l in labels])
  else:
    for i, (video, label) in enumerate(zip(flat, labels)):
      writer.video(f"{i:04d}{_class_tag(model, label)}", video, index=i, **_label_info(model, label))
  if grid:
    from dvd_gan import sampling  # noqa: PLC0415 - TensorFlow loads after the flags are checked
    columns = v.shape[1] if by_class else min(8, len(v))
    tiles = sampling.class_grid(v) if by_class else video_writer.video_tiles(v, columns=columns)
    writer.video("grid", tiles, layout=("a row per class, a column per sample" if by_class else
                                        f"videos in order, {columns} per row"))
    writer.png("grid", video_writer.frame_grid(flat), layout="a row per video, a column per frame")


def write_interpolations(model, samples, writer, kind: str, grid: bool) -> None:
  """Per path: a video whose rows are the steps (npy: [K, T, H, W, 3]) and a frame-strip PNG."""
  from dvd_gan import sampling  # noqa: PLC0415 - TensorFlow loads after the flags are checked
  v = video_writer.to_uint8(samples.videos)  # [P, K, T, H, W, 3]
  labels = samples.labels if samples.labels is not None else [None] * len(v)
  alphas = [float(a) for a in samples.alphas]
  for p, (path, label) in enumerate(zip(v, labels)):
    stem = f"interpolation_{kind}_{p:03d}{_class_tag(model, label)}"
    info = dict(path=p, alphas=alphas, **_label_info(model, label))
    if writer.fmt == "npy":
      writer.npy(stem, path, layout="[K steps, T, H, W, 3]", **info)
    else:
      writer.video(stem, sampling.interpolation_video(path), layout="a row per step", **info)
    writer.png(stem, video_writer.frame_grid(path), layout="a row per step, a column per frame", **info)
  if grid:
    writer.video("grid", sampling.interpolations_grid(v), layout="a column per path, a row per step")


def body(fv, args):
  command.require(fv, "out")
  if bool(fv.workdir) == bool(fv.saved_model):
    raise command.UsageError("give exactly one of --workdir (a training run) and --saved_model (an export)")
  if fv.interpolate == "class" and not fv.classes:
    raise command.UsageError("--interpolate=class needs --classes with at least two classes")
  if fv.truncation_mode == "resample" and fv.truncation == 0:
    raise command.UsageError("--truncation must be > 0 with --truncation_mode=resample (the threshold on |z|)")
  from dvd_gan import sampling  # noqa: PLC0415 - imports TensorFlow: after the flags are checked
  model = sampling.load(workdir=fv.workdir, saved_model=fv.saved_model)
  if fv.classes:
    model.resolve_classes(fv.classes)  # a bad class is an error before anything is generated
  common = dict(seed=fv.seed, truncation=fv.truncation, mode=fv.truncation_mode, batch_size=fv.batch_size,
                progress=fv.progress)
  if fv.interpolate == "latent":
    samples = sampling.latent_interpolation(model, fv.classes, num=fv.num, steps=fv.steps, **common)
  elif fv.interpolate == "class":
    samples = sampling.class_interpolation(model, fv.classes, num=fv.num, steps=fv.steps, **common)
  elif fv.classes:
    samples = sampling.class_samples(model, fv.classes, fv.num, **common)
  else:
    samples = sampling.random_samples(model, fv.num, **common)
  eio.makedirs(fv.out)
  writer = _Writer(fv.out, fv.format, fv.fps, fv.scale)
  if fv.interpolate:
    write_interpolations(model, samples, writer, fv.interpolate, fv.grid)
  else:
    write_plain(model, samples, writer, fv.grid, by_class=bool(fv.classes))
  eio.write_json(eio.join(fv.out, "samples.json"), {
      "source": model.source, "seed": fv.seed, "truncation": fv.truncation,
      "truncation_mode": fv.truncation_mode, "format": fv.format, "fps": fv.fps, "scale": fv.scale,
      "interpolate": fv.interpolate, "steps": fv.steps if fv.interpolate else None,
      "num_frames": model.num_frames, "resolution": model.resolution, "num_classes": model.num_classes,
      "files": writer.files})
  print(f"wrote {len(writer.files)} files to {fv.out}", flush=True)
  return 0


def main(argv=None) -> int:
  """`python -m dvd_gan.sample`; returns the exit status (0 ok, 2 bad input)."""
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


def run():
  """Console entry point `dvd-gan-sample`."""
  command.run(main)


if __name__ == "__main__":
  run()
