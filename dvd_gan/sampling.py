"""Sampling for people: class samples, truncation, latent and class interpolations (docs/sampling.md).

The library behind `python -m dvd_gan.sample` and `notebooks/sample.ipynb`. A `LoadedSampler` is the exported
SavedModel's signatures (`load(saved_model=DIR)`: TensorFlow only, nothing else of dvd_gan is imported), or the
same functions built in this process from a training run's latest G_ema (`load(workdir=DIR)`, through
`dvd_gan.generators.Sampler`). Either way the same seed gives the same videos.

Latents come from the model's `latents` signature: `latents(n, seed)` draws z [n, z_dim] (and random classes
y [n]) as a pure function of (n, seed, truncation, mode); z is truncated by scaling ("scale", the paper's
sigma; 0.44 for its truncated figures) or by redrawing the components above a threshold ("resample",
BigGAN's). Layouts (all arrays float32 in [-1, 1], videos `[T, H, W, 3]`):

  class_samples          [C, N, T, H, W, 3]: video j of every class uses the same z_j (z_j of latents(N, seed)),
                         so a row per class shows the classes at fixed latents.
  random_samples         [N, T, H, W, 3] with the classes y of latents(N, seed) (sample_random's z and y).
  latent_interpolation   [P, K, T, H, W, 3]: path p goes from z_2p to z_2p+1 (of latents(2P, seed)) in K steps,
                         z = (1 - a) z_2p + a z_2p+1, a = 0, 1/(K-1), ..., 1, at a fixed class.
  class_interpolation    [P, K, T, H, W, 3]: path p keeps z_j fixed and mixes the class embeddings
                         (1 - a) e(c0) + a e(c1) (signature `sample_mixed`).
Interpolation endpoints (a = 0 and a = 1) are exactly the plain samples of their z and class.
"""
import base64
import sys
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import tensorflow as tf

from eval import video_writer
from eval.errors import one_line
from dvd_gan.errors import UserError
from tqdm import tqdm

TRUNCATION_MODES = ("scale", "resample")
INTERPOLATIONS = ("latent", "class")




@dataclass
class LoadedSampler:
  """A generator loaded for sampling, from an export or a run folder: its functions and constants.

  Attributes:
    signatures: {"latents", "sample", "sample_mixed" (conditional only)}: callables taking keyword tensors
      and returning dicts of tensors, as the SavedModel's signatures.
    resolution, num_frames, num_classes, z_dim: the model's constants.
    class_names: names in label order, or [] when unknown.
    source: where it came from (for messages and samples.json).
    max_batch_size: the most videos one signature call serves (`sample` and `sample_mixed` run in batches of
      at most this many); None for exports that predate the bound.
    max_latents: the most rows one call of `latents` draws (a larger request is a UserError: the z of
      latents(n, seed) are one draw, which batches would change); None for exports that predate the bound.
  """
  signatures: dict
  resolution: int
  num_frames: int
  num_classes: int
  z_dim: int
  class_names: list = field(default_factory=list)
  source: str = ""
  keep_alive: object = None  # the loaded SavedModel object, which owns the signatures' variables
  max_batch_size: Optional[int] = None
  max_latents: Optional[int] = None
  from_workdir: bool = False  # a run folder: served with the export's default bounds, no flag of the user's

  @property
  def conditional(self) -> bool:
    return self.num_classes > 0

  def class_name(self, label: int) -> str:
    return self.class_names[label] if self.class_names else str(label)

  # -- latents and batched generation --

  def latents(self, num: int, seed: int, truncation: float = 1.0, mode: str = "scale"):
    """z float32 [num, z_dim] and y int32 [num] (None if unconditional), a pure function of the arguments."""
    check_truncation(truncation, mode)
    if self.max_latents is not None and int(num) > self.max_latents:
      where = ("the bound a run folder is served with, the default of python -m dvd_gan.export"
               if self.from_workdir else "python -m dvd_gan.export --max_latents")
      raise UserError(f"{num} latents asked for in one draw; {self.source} serves at most {self.max_latents} "
                      f"({where}): ask for fewer videos")
    out = self.signatures["latents"](batch_size=tf.constant(int(num), tf.int32),
                                     seed=tf.constant(int(seed), tf.int64),
                                     truncation=tf.constant(float(truncation), tf.float32),
                                     truncation_mode=tf.constant(mode))
    return out["z"].numpy(), (out["y"].numpy() if "y" in out else None)

  def _batch(self, batch_size: int) -> int:
    """`batch_size`, capped at the model's max_batch_size: larger requests run as more calls."""
    return min(int(batch_size), self.max_batch_size) if self.max_batch_size else int(batch_size)

  def sample(self, z, y=None, *, batch_size: int = 16, progress: bool = False) -> np.ndarray:
    """G(z, y) float32 [N, T, H, W, 3], run in batches of `batch_size` (at most max_batch_size; a progress
    bar with `progress`)."""
    z = np.asarray(z, np.float32)
    batch_size = self._batch(batch_size)
    if self.conditional:
      y = np.asarray(y, np.int32)
      return _batched(lambda s: self.signatures["sample"](z=z[s], y=y[s]), len(z), batch_size, progress)
    return _batched(lambda s: self.signatures["sample"](z=z[s]), len(z), batch_size, progress)

  def sample_mixed(self, z, y0, y1, alpha, *, batch_size: int = 16, progress: bool = False) -> np.ndarray:
    """G with class embedding (1 - alpha) e(y0) + alpha e(y1): float32 [N, T, H, W, 3]."""
    if not self.conditional:
      raise UserError("class interpolation needs a class-conditional model; this one is unconditional")
    z, alpha = np.asarray(z, np.float32), np.asarray(alpha, np.float32)
    batch_size = self._batch(batch_size)
    y0, y1 = np.asarray(y0, np.int32), np.asarray(y1, np.int32)
    return _batched(lambda s: self.signatures["sample_mixed"](z=z[s], y0=y0[s], y1=y1[s], alpha=alpha[s]),
                    len(z), batch_size, progress)

  # -- classes --

  def resolve_classes(self, spec) -> list:
    """Class ids from "all", "3,17", "square-up,bar-left" (names of `class_names`), or a list of ids/names."""
    if not self.conditional:
      raise UserError("classes were given, but the model is unconditional (it has no classes)")
    if isinstance(spec, str):
      if spec.strip() == "all":
        return list(range(self.num_classes))
      spec = [s.strip() for s in spec.split(",") if s.strip()]
    if not spec:
      raise UserError("no classes given")
    ids = []
    for item in spec:
      if isinstance(item, (int, np.integer)) or str(item).lstrip("-").isdigit():
        label = int(item)
        if not 0 <= label < self.num_classes:
          raise UserError(f"class {label} is out of range: the model has classes 0..{self.num_classes - 1}")
      elif item in self.class_names:
        label = self.class_names.index(item)
      else:
        known = ", ".join(self.class_names[:20]) + (", ..." if len(self.class_names) > 20 else "")
        raise UserError(f"unknown class name {item!r}; " +
                          (f"the model's classes: {known}" if self.class_names else
                           "the model has no class names: give class ids 0.."
                           f"{self.num_classes - 1}"))
      ids.append(label)
    return ids


def _batched(fn: Callable, n: int, batch_size: int, progress: bool) -> np.ndarray:
  """Concatenates fn(slice)["video"] over batches of `batch_size` rows, with a tqdm bar when `progress`."""
  starts = range(0, n, max(1, int(batch_size)))
  bar = None
  if progress:
    bar = tqdm(total=len(starts), desc="sampling", unit="batch", file=sys.stderr, leave=True)
  out = []
  try:
    for start in starts:
      out.append(fn(slice(start, min(start + batch_size, n)))["video"].numpy())
      if bar is not None:
        bar.update(1)
  finally:
    if bar is not None:
      bar.close()
  return np.concatenate(out, axis=0)


def check_truncation(truncation: float, mode: str) -> None:
  if mode not in TRUNCATION_MODES:
    raise UserError(f"truncation mode must be one of {', '.join(TRUNCATION_MODES)}, got {mode!r}")
  if not truncation >= 0:
    raise UserError(f"truncation must be >= 0, got {truncation}")
  if mode == "resample" and truncation == 0:
    raise UserError("truncation must be > 0 with truncation mode resample (the threshold on |z|)")


# ---- loading ---------------------------------------------------------------------------------------------

def load_saved_model(path: str) -> LoadedSampler:
  """A Model from a SavedModel written by `python -m dvd_gan.export` (format version >= 2)."""
  try:
    loaded = tf.saved_model.load(path)
  except (OSError, tf.errors.OpError, ValueError) as e:
    raise UserError(f"cannot load the SavedModel {path}: {one_line(e, 300)}") from None
  sigs = loaded.signatures
  if "predict" in sigs:
    raise UserError(f"{path} is a DVD-GAN-FP export: it continues given frames; use python -m dvd_gan.predict")
  if "latents" not in sigs or not hasattr(loaded, "resolution"):
    raise UserError(f"{path} was exported by an older dvd_gan (no 'latents' signature): export it again "
                    "with python -m dvd_gan.export")
  names = [n.decode("utf-8") for n in loaded.class_names.numpy()]
  bounds = {k: int(getattr(loaded, k).numpy()) for k in ("max_batch_size", "max_latents") if hasattr(loaded, k)}
  return LoadedSampler(signatures={k: sigs[k] for k in ("latents", "sample", "sample_mixed") if k in sigs},
               resolution=int(loaded.resolution.numpy()), num_frames=int(loaded.num_frames.numpy()),
               num_classes=int(loaded.num_classes.numpy()), z_dim=int(loaded.z_dim.numpy()),
               class_names=names, source=str(path), keep_alive=loaded, **bounds)


def load_workdir(workdir: str, *, xla: bool = False) -> LoadedSampler:
  """A LoadedSampler of a training run's latest G_ema, built in this process as the export would build it (with
  standing statistics when the run's config turns them on: `eval.standing_stats_batches`)."""
  from dvd_gan import generators, run_folder  # noqa: PLC0415 - builds the generator: only for training runs
  try:
    config = run_folder.load_config(workdir)
    if run_folder.num_conditioning_frames(config) > 0:
      raise UserError(f"{workdir} is a DVD-GAN-FP run: it continues given frames; use python -m dvd_gan.predict")
    run = run_folder.open_run(workdir, "last", config=config, standing_stats=True)
  except UserError as e:
    raise UserError(str(e)) from None
  generator, checkpoint = run.generator, run.checkpoint
  num_classes = int(config.num_classes)
  names = run_folder.default_class_names(config) if num_classes > 0 else None
  sampler = generators.Sampler(generator, names if names and len(names) == num_classes else None, xla=xla)
  sigs = sampler.signatures()
  return LoadedSampler(signatures={k: sigs[k] for k in ("latents", "sample", "sample_mixed") if k in sigs},
               resolution=int(generator.resolution), num_frames=int(generator.num_frames),
               num_classes=num_classes, z_dim=int(generator.z_dim),
               class_names=[n.decode("utf-8") for n in sampler.class_names.numpy()],
               source=f"{workdir} ({checkpoint})", keep_alive=sampler,
               max_batch_size=int(sampler.max_batch_size.numpy()), max_latents=int(sampler.max_latents.numpy()),
               from_workdir=True)


def load(*, workdir: Optional[str] = None, saved_model: Optional[str] = None) -> LoadedSampler:
  """`load(saved_model=EXPORT_DIR)` or `load(workdir=RUN_DIR)` (exactly one)."""
  if bool(workdir) == bool(saved_model):
    raise UserError("give exactly one of --workdir (a training run) and --saved_model (an export)")
  return load_saved_model(saved_model) if saved_model else load_workdir(workdir)


# ---- what to sample --------------------------------------------------------------------------------------

@dataclass
class Samples:
  """Videos float32 [..., T, H, W, 3] in [-1, 1] and what they show.

  Attributes:
    videos: [C, N, ...] (class_samples), [N, ...] (random_samples) or [P, K, ...] (interpolations).
    labels: per row (class_samples: the class of each row; random: each video's class; interpolations: a
      label per path, (c0, c1) for class paths); None for unconditional models.
    z: the latents used [rows..., z_dim].
    alphas: the interpolation weights [K] (interpolations only).
  """
  videos: np.ndarray
  labels: Optional[list]
  z: np.ndarray
  alphas: Optional[np.ndarray] = None


def class_samples(model: LoadedSampler, classes, num: int, seed: int = 0, truncation: float = 1.0,
                  mode: str = "scale", *, batch_size: int = 16, progress: bool = False) -> Samples:
  """`num` videos of each class (ids or names, or "all"): videos [C, N, T, H, W, 3]; video j of every
  class uses z_j of latents(num, seed)."""
  ids = model.resolve_classes(classes)
  z, _ = model.latents(num, seed, truncation, mode)
  zz = np.tile(z, [len(ids), 1])
  y = np.repeat(np.asarray(ids, np.int32), num)
  videos = model.sample(zz, y, batch_size=batch_size, progress=progress)
  return Samples(videos.reshape((len(ids), num) + videos.shape[1:]), ids, zz.reshape(len(ids), num, -1))


def random_samples(model: LoadedSampler, num: int, seed: int = 0, truncation: float = 1.0, mode: str = "scale",
                   *, batch_size: int = 16, progress: bool = False) -> Samples:
  """`num` videos [N, T, H, W, 3] of z and classes drawn from the seed (sample_random's for mode scale)."""
  z, y = model.latents(num, seed, truncation, mode)
  videos = model.sample(z, y, batch_size=batch_size, progress=progress)
  return Samples(videos, None if y is None else [int(c) for c in y], z)


def _alphas(steps: int) -> np.ndarray:
  if int(steps) < 2:
    raise UserError(f"an interpolation needs at least 2 steps, got {steps}")
  return np.linspace(0.0, 1.0, int(steps), dtype=np.float32)


def latent_interpolation(model: LoadedSampler, classes=None, num: int = 1, steps: int = 8, seed: int = 0,
                         truncation: float = 1.0, mode: str = "scale", *, batch_size: int = 16,
                         progress: bool = False) -> Samples:
  """Interpolations between two z at a fixed class: videos [P, K, T, H, W, 3].

  `num` pairs (z_2p, z_2p+1) of latents(2 num, seed); each pair is run at every class of `classes`
  (ids, names or "all"; None: the class y_2p drawn with z_2p; unconditional models: no class). Path order:
  class-major, then pair. Labels: the class of each path.
  """
  a = _alphas(steps)
  z, y = model.latents(2 * num, seed, truncation, mode)
  pairs = [(z[2 * p], z[2 * p + 1]) for p in range(num)]
  if not model.conditional:
    paths = [(za, zb, None) for za, zb in pairs]
  elif classes is None:
    paths = [(za, zb, int(y[2 * p])) for p, (za, zb) in enumerate(pairs)]
  else:
    paths = [(za, zb, c) for c in model.resolve_classes(classes) for za, zb in pairs]
  zs = np.stack([(1.0 - a)[:, None] * za[None] + a[:, None] * zb[None] for za, zb, _ in paths])  # [P, K, D]
  labels = None if not model.conditional else [c for _, _, c in paths]
  ys = None if labels is None else np.repeat(np.asarray(labels, np.int32), len(a))
  videos = model.sample(zs.reshape(-1, model.z_dim), ys, batch_size=batch_size, progress=progress)
  return Samples(videos.reshape(zs.shape[:2] + videos.shape[1:]), labels, zs, a)


def class_interpolation(model: LoadedSampler, classes, num: int = 1, steps: int = 8, seed: int = 0,
                        truncation: float = 1.0, mode: str = "scale", *, batch_size: int = 16,
                        progress: bool = False) -> Samples:
  """Interpolations between class embeddings at a fixed z: videos [P, K, T, H, W, 3].

  `classes` (at least two) are visited in order: paths c0 -> c1, c1 -> c2, ... Each runs at z_j for j < num
  (latents(num, seed)). Path order: class pair-major, then j. Labels: (c_from, c_to) per path.
  """
  ids = model.resolve_classes(classes)
  if len(ids) < 2:
    raise UserError("class interpolation needs at least two classes (--classes=A,B)")
  a = _alphas(steps)
  z, _ = model.latents(num, seed, truncation, mode)
  labels = [(c0, c1) for c0, c1 in zip(ids[:-1], ids[1:]) for _ in range(num)]
  zs = np.tile(z, [len(ids) - 1, 1])                                                        # [P, D]
  k = len(a)
  videos = model.sample_mixed(np.repeat(zs, k, axis=0), np.repeat([l[0] for l in labels], k),
                              np.repeat([l[1] for l in labels], k), np.tile(a, len(labels)),
                              batch_size=batch_size, progress=progress)
  return Samples(videos.reshape((len(labels), k) + videos.shape[1:]), labels,
                 np.repeat(zs[:, None], k, axis=1), a)


# ---- showing ---------------------------------------------------------------------------------------------

def class_grid(videos_uint8: np.ndarray, pad: int = 1) -> np.ndarray:
  """[C, N, T, H, W, 3] -> one video [T, H', W', 3] with a row per class and a column per sample."""
  c, n = videos_uint8.shape[:2]
  return video_writer.video_tiles(videos_uint8.reshape((c * n,) + videos_uint8.shape[2:]), columns=n, pad=pad)


def interpolation_video(path_uint8: np.ndarray, pad: int = 1) -> np.ndarray:
  """[K, T, H, W, 3] -> one video [T, K*(H+pad)-pad, W, 3] whose rows are the interpolation steps."""
  return video_writer.video_tiles(path_uint8, columns=1, pad=pad)


def interpolations_grid(paths_uint8: np.ndarray, pad: int = 1) -> np.ndarray:
  """[P, K, T, H, W, 3] -> one video [T, K rows, P columns]: a column per path, a row per step."""
  p, k = paths_uint8.shape[:2]
  step_major = np.swapaxes(paths_uint8, 0, 1).reshape((k * p,) + paths_uint8.shape[2:])
  return video_writer.video_tiles(step_major, columns=p, pad=pad)


def html_video(frames_uint8: np.ndarray, fps: float = 8, scale: int = 1) -> str:
  """An HTML5 <video> element (autoplay, loop, inline base64 mp4) of one video uint8 [T, H, W, 3]."""
  frames = video_writer.upscale(np.asarray(frames_uint8, np.uint8), scale)
  data = base64.b64encode(video_writer.encode_mp4(frames, fps)).decode("ascii")
  h, w = frames.shape[1:3]
  return (f'<video width="{w}" height="{h}" autoplay loop muted playsinline controls>'
          f'<source src="data:video/mp4;base64,{data}" type="video/mp4"></video>')


def html_gif(frames_uint8: np.ndarray, fps: float = 8, scale: int = 1) -> str:
  """An <img> element with an inline animated GIF of one video uint8 [T, H, W, 3] (for viewers without mp4)."""
  frames = video_writer.upscale(np.asarray(frames_uint8, np.uint8), scale)
  data = base64.b64encode(video_writer.encode_gif(frames, fps)).decode("ascii")
  return f'<img src="data:image/gif;base64,{data}"/>'


def label_text(model: LoadedSampler, labels: Optional[Sequence]) -> list:
  """Readable names of Samples.labels (class names, or "a->b" for class paths)."""
  if labels is None:
    return []
  out = []
  for label in labels:
    if isinstance(label, tuple):
      out.append(f"{model.class_name(label[0])}->{model.class_name(label[1])}")
    else:
      out.append(model.class_name(label))
  return out
