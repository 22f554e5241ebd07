"""The embedded synthetic video dataset: class-conditional moving shapes, generated on the fly (no download).

A video shows one filled shape on a dark, slightly tinted background, moving in a straight line at constant
speed. The class is (shape, direction of motion):

  class = 4 * shape + direction,  shape in {square, bar}, direction in {right, left, down, up}

so NUM_CLASSES = 8. Colour, size, start position, speed and background tint vary per video. The shape stays
inside the frame for the whole clip.

Two variants (`VARIANTS`, config `data.synthetic_variant`):
  "synthesis"   (the default) half-side 18-28 % of the frame, travel 45-75 % of the free room over the clip
  "prediction"  (DVD-GAN-FP, experiments/tiny_fp.py) smaller shapes (half-side 12-17 %) that travel 85-100 %
                of the free room: about twice as fast (~1 pixel per frame for 12 frames at 16x16), so the
                first few frames show the direction clearly and a prediction that stops moving is far from
                the true continuation. Given the first C frames, the rest of the clip is determined (constant
                velocity): the task is to continue the motion.
Every video is a pure function of (seed, split, element index): the generator uses only stateless random
ops, so a dataset iterated twice, or on two hosts, yields the same videos, and the train and test splits never
share a (seed, index) stream.
"""
import tensorflow as tf
import numpy as np

SHAPES = ("square", "bar")
DIRECTIONS = ("right", "left", "down", "up")
NUM_CLASSES = len(SHAPES) * len(DIRECTIONS)
CLASS_NAMES = tuple(f"{s}-{d}" for s in SHAPES for d in DIRECTIONS)

_SPLITS = {"train": 0, "test": 1, "validation": 2}
# (half-side as a fraction of the frame: minimum, range), (travel as a fraction of the free room: min, range).
VARIANTS = {
    "synthesis": ((0.18, 0.10), (0.45, 0.30)),
    "prediction": ((0.12, 0.05), (0.85, 0.15)),
}
# Unit motion vector (dx, dy) of each direction, in image coordinates (y grows downwards).
_DIRECTION_VECTORS = ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0))


def render_video(label, params, num_frames: int, resolution: int, variant: str = "synthesis"):
  """Draws one video of class `label`.

  Args:
    label: int32 scalar in [0, NUM_CLASSES).
    params: float32 [8] uniform(0, 1) numbers: size, speed, start position (2), colour (3), background tint.
    num_frames: T.
    resolution: H = W.
    variant: "synthesis" or "prediction" (`VARIANTS`: sizes and speeds).

  Returns:
    [T, H, W, 3] float32 in [-1, 1].
  """
  t_count, res = num_frames, float(resolution)
  shape = label // len(DIRECTIONS)
  direction = label % len(DIRECTIONS)
  vec = tf.gather(tf.constant(_DIRECTION_VECTORS), direction)               # [2]
  (size0, size_range), (travel0, travel_range) = VARIANTS[variant]
  radius = res * (size0 + size_range * params[0])                           # half-side / radius in pixels
  # Travel over the clip: a fraction of the free room in the frame (synthesis: between 45% and 75%).
  room = res - 2.0 * radius
  travel = room * (travel0 + travel_range * params[1])
  speed = travel / max(t_count - 1, 1)
  # Start so that the whole path stays inside: along the motion axis start on the trailing side.
  free = room - travel * tf.abs(vec)                                       # [2] slack per axis
  start = radius + free * params[2:4] + travel * tf.nn.relu(-vec)           # [2] (x, y) of the centre
  t = tf.range(t_count, dtype=tf.float32)[:, None]                          # [T, 1]
  centres = start[None, :] + t * speed * vec[None, :]                       # [T, 2]
  coords = tf.range(resolution, dtype=tf.float32) + 0.5                     # pixel centres
  dx = coords[None, None, :] - centres[:, 0, None, None]                    # [T, 1, W]
  dy = coords[None, :, None] - centres[:, 1, None, None]                    # [T, H, 1]
  square = tf.maximum(tf.abs(dx), tf.abs(dy))
  bar = tf.maximum(tf.abs(dx), 3.0 * tf.abs(dy))                            # as wide as the square, 1/3 as tall
  dist = tf.where(shape == 0, square, bar)                                  # [T, H, W]
  mask = tf.clip_by_value(radius + 0.5 - dist, 0.0, 1.0)[..., None]         # anti-aliased edge
  # Bright saturated colour: every channel in [0.2, 1], at least one channel at 1.
  colour = 0.2 + 0.8 * params[4:7]
  colour = colour / tf.reduce_max(colour)
  background = 0.15 * params[7] * tf.constant([0.3, 0.5, 1.0])
  video = mask * colour + (1.0 - mask) * background                        # [T, H, W, 3] in [0, 1]
  return video * 2.0 - 1.0


def synthetic_example(index, *, num_frames: int, resolution: int, seed: int, split: str = "train",
                      variant: str = "synthesis"):
  """Element `index` of the dataset: {"video": [T,H,W,3] float32 in [-1,1], "label": int32 scalar}."""
  index = tf.cast(index, tf.int64)
  key = tf.stack([tf.cast(seed, tf.int64) * 4 + _SPLITS[split], index])
  label = tf.random.stateless_uniform([], key, 0, NUM_CLASSES, dtype=tf.int32)
  params = tf.random.stateless_uniform([8], key + tf.constant([0, 1 << 40], tf.int64))
  return {"video": render_video(label, params, num_frames, resolution, variant), "label": label}


def synthetic_dataset(num_frames: int, resolution: int, seed: int, split: str = "train",
                      start_index: int = 0, variant: str = "synthesis") -> tf.data.Dataset:
  """Unbatched dataset of moving-shape videos.

  Args:
    num_frames: T (>= 1).
    resolution: H = W (>= 8).
    seed: integer seed; with the element index it fixes every video.
    split: "train" (infinite), "test" or "validation" (also infinite; take() what you need, they use
      streams disjoint from train).
    start_index: first element index (to resume a stream, or to shard it).
    variant: "synthesis" (default) or "prediction" (`VARIANTS`; module docstring).

  Returns:
    tf.data.Dataset of {"video": [T, H, W, 3] float32 in [-1, 1], "label": int32 scalar}.
  """
  if split not in _SPLITS:
    raise ValueError(f"synthetic dataset: unknown split {split!r}; expected one of {sorted(_SPLITS)}")
  if variant not in VARIANTS:
    raise ValueError(f"synthetic dataset: unknown variant {variant!r}; expected one of {sorted(VARIANTS)}")
  if int(num_frames) < 1 or int(resolution) < 8:
    raise ValueError(f"synthetic dataset: need num_frames >= 1 and resolution >= 8, got "
                     f"{num_frames} and {resolution}")
  ds = tf.data.Dataset.range(int(start_index), tf.int64.max)
  return ds.map(
      lambda i: synthetic_example(i, num_frames=int(num_frames), resolution=int(resolution), seed=int(seed),
                                  split=split, variant=variant),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _above_background(v):
  """[N, T, H, W]: each pixel's brightest channel minus its video's median of those (the background), for
  videos `v` [N, T, H, W, 3] in [0, 1]; the shape is where this exceeds a threshold."""
  lum = v.max(axis=-1)
  return lum - np.median(lum.reshape(len(lum), -1), axis=1)[:, None, None, None]


def class_cues(videos, labels, threshold: float = 0.25) -> dict:
  """How well videos show their class: the motion direction and the shape read off the pixels.

  For each video, the shape's pixels are those whose brightest channel exceeds the video's median (the
  background) by `threshold` (in [0, 1] units); their mass-weighted centre is tracked over time, and the
  least-squares velocity gives the direction (the axis with the larger speed, then its sign). The shape is
  read from the width / height ratio of the pixel mask's bounding box (median over frames): ~1 for a
  square, ~2.5 for a bar; above 1.7 counts as a bar. Real videos of this dataset score 1.0 on
  both; a generator that ignores the class scores ~0.25 (direction) and ~0.5 (shape).

  Args:
    videos: [N, T, H, W, 3] float in [-1, 1] (T >= 2).
    labels: [N] int classes in [0, NUM_CLASSES).
    threshold: brightness above the background that counts as shape.

  Returns:
    {"direction_accuracy", "shape_accuracy", "median_speed" (pixels per frame)}.
  """

  v = (np.asarray(videos, np.float32) + 1.0) / 2.0
  labels = np.asarray(labels)
  n, t, h, w, _ = v.shape
  weight = np.clip(_above_background(v) - threshold, 0.0, None)              # [N, T, H, W]
  ys, xs = np.mgrid[0:h, 0:w] + 0.5
  mass = weight.sum(axis=(2, 3)) + 1e-6
  cx = (weight * xs).sum(axis=(2, 3)) / mass                                  # [N, T]
  cy = (weight * ys).sum(axis=(2, 3)) / mass
  tc = np.arange(t) - (t - 1) / 2.0
  vx = (cx * tc).sum(axis=1) / (tc * tc).sum()
  vy = (cy * tc).sum(axis=1) / (tc * tc).sum()
  direction = np.where(np.abs(vx) > np.abs(vy), np.where(vx > 0, 0, 1), np.where(vy > 0, 2, 3))
  mask = weight > 0
  aspect = np.zeros(n)
  for i in range(n):
    ratios = []
    for j in range(t):
      yy, xx = np.nonzero(mask[i, j])
      if yy.size >= 3:
        ratios.append((xx.max() - xx.min() + 1) / (yy.max() - yy.min() + 1))
    aspect[i] = np.median(ratios) if ratios else 0.0
  shape = np.where(aspect > 1.7, 1, 0)
  return {
      "direction_accuracy": float(np.mean(direction == labels % len(DIRECTIONS))),
      "shape_accuracy": float(np.mean(shape == labels // len(DIRECTIONS))),
      "median_speed": float(np.median(np.hypot(vx, vy))),
  }


def background_mask(videos, threshold: float = 0.25):
  """bool [N, H, W]: the pixels of each video that show background in every frame.

  Those that are neither shape (`class_cues`' rule: brightest channel more than `threshold` above the video's
  median) nor next to it (the shape's anti-aliased edge) in any frame.

  Args:
    videos: [N, T, H, W, 3] float in [-1, 1].
    threshold: brightness above the background that counts as shape (in [0, 1] units).
  """
  v = (np.asarray(videos, np.float64) + 1.0) / 2.0
  n, _, h, w, _ = v.shape
  shape = np.pad((_above_background(v) > threshold).any(axis=1), ((0, 0), (1, 1), (1, 1)))  # [N, H+2, W+2]
  near = np.zeros((n, h, w), bool)
  for dy in range(3):
    for dx in range(3):
      near |= shape[:, dy:dy + h, dx:dx + w]
  return ~near


def background_flicker(videos, threshold: float = 0.25) -> float:
  """How much the background changes from frame to frame, in 8-bit levels: 0 for this dataset's videos.

  A real video's background is one flat tint in every frame; a generator's shimmers (the demo's runs: 0.3 to
  0.8 levels), and the runs whose samples shimmer more score worse FVDs at 16x16 (docs/demo.md, "What the FVD
  at 16x16 punishes"). The figure is the mean absolute change between consecutive frames over the background
  pixels (`background_mask`) and the three channels of all videos, times 127.5 (8-bit levels per frame).

  Args:
    videos: [N, T, H, W, 3] float in [-1, 1] (T >= 2).
    threshold: brightness above the background that counts as shape (in [0, 1] units).

  Returns:
    The mean absolute frame-to-frame change of background pixels, in 8-bit levels (0.0 with no such pixel).
  """
  v = np.asarray(videos, np.float64)
  if v.shape[1] < 2:
    raise ValueError(f"background_flicker needs at least 2 frames, got {v.shape[1]}")
  background = background_mask(v, threshold)
  if not background.any():
    return 0.0
  change = np.abs(np.diff(v, axis=1)).mean(axis=-1)                           # [N, T-1, H, W], in [-1, 1] units
  return float(change.transpose(1, 0, 2, 3)[:, background].mean() * 127.5)


def hold_background(videos, threshold: float = 0.25):
  """`videos` with every background pixel (`background_mask`) held at its mean over time: the same videos
  without their background flicker (float [N, T, H, W, 3] in [-1, 1]; shape pixels unchanged)."""
  v = np.asarray(videos, np.float64)
  still = np.broadcast_to(v.mean(axis=1, keepdims=True), v.shape)
  return np.where(background_mask(v, threshold)[:, None, :, :, None], still, v)
