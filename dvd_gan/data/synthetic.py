"""The embedded synthetic video dataset: class-conditional moving shapes, generated on the fly (no download).

A video shows one filled shape on a dark, slightly tinted background, moving in a straight line at constant
speed. The class is (shape, direction of motion):

  class = 4 * shape + direction,  shape in {square, disc}, direction in {right, left, down, up}

so NUM_CLASSES = 8. Colour, size, start position, speed and background tint vary per video. The shape stays
inside the frame for the whole clip. Every video is a pure function of (seed, split, element index): the
generator uses only stateless random ops, so a dataset iterated twice, or on two hosts, yields the same
videos, and the train and test splits never share a (seed, index) stream.
"""
import tensorflow as tf

SHAPES = ("square", "disc")
DIRECTIONS = ("right", "left", "down", "up")
NUM_CLASSES = len(SHAPES) * len(DIRECTIONS)
CLASS_NAMES = tuple(f"{s}-{d}" for s in SHAPES for d in DIRECTIONS)

_SPLITS = {"train": 0, "test": 1, "validation": 2}
# Unit motion vector (dx, dy) of each direction, in image coordinates (y grows downwards).
_DIRECTION_VECTORS = ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0))


def render_video(label, params, num_frames: int, resolution: int):
  """Draws one video of class `label`.

  Args:
    label: int32 scalar in [0, NUM_CLASSES).
    params: float32 [8] uniform(0, 1) numbers: size, speed, start position (2), colour (3), background tint.
    num_frames: T.
    resolution: H = W.

  Returns:
    [T, H, W, 3] float32 in [-1, 1].
  """
  t_count, res = num_frames, float(resolution)
  shape = label // len(DIRECTIONS)
  direction = label % len(DIRECTIONS)
  vec = tf.gather(tf.constant(_DIRECTION_VECTORS), direction)               # [2]
  radius = res * (0.12 + 0.08 * params[0])                                  # half-side / radius in pixels
  # Travel over the clip: between 45% and 75% of the free room in the frame.
  room = res - 2.0 * radius
  travel = room * (0.45 + 0.3 * params[1])
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
  disc = tf.sqrt(dx * dx + dy * dy)
  dist = tf.where(shape == 0, square, disc)                                 # [T, H, W]
  mask = tf.clip_by_value(radius + 0.5 - dist, 0.0, 1.0)[..., None]         # anti-aliased edge
  # Bright saturated colour: every channel in [0.2, 1], at least one channel at 1.
  colour = 0.2 + 0.8 * params[4:7]
  colour = colour / tf.reduce_max(colour)
  background = 0.15 * params[7] * tf.constant([0.3, 0.5, 1.0])
  video = mask * colour + (1.0 - mask) * background                        # [T, H, W, 3] in [0, 1]
  return video * 2.0 - 1.0


def synthetic_example(index, *, num_frames: int, resolution: int, seed: int, split: str = "train"):
  """Element `index` of the dataset: {"video": [T,H,W,3] float32 in [-1,1], "label": int32 scalar}."""
  index = tf.cast(index, tf.int64)
  key = tf.stack([tf.cast(seed, tf.int64) * 4 + _SPLITS[split], index])
  label = tf.random.stateless_uniform([], key, 0, NUM_CLASSES, dtype=tf.int32)
  params = tf.random.stateless_uniform([8], key + tf.constant([0, 1 << 40], tf.int64))
  return {"video": render_video(label, params, num_frames, resolution), "label": label}


def synthetic_dataset(num_frames: int, resolution: int, seed: int, split: str = "train",
                      start_index: int = 0) -> tf.data.Dataset:
  """Unbatched dataset of moving-shape videos.

  Args:
    num_frames: T (>= 1).
    resolution: H = W (>= 8).
    seed: integer seed; with the element index it fixes every video.
    split: "train" (infinite), "test" or "validation" (also infinite; take() what you need, they use
      streams disjoint from train).
    start_index: first element index (to resume a stream, or to shard it).

  Returns:
    tf.data.Dataset of {"video": [T, H, W, 3] float32 in [-1, 1], "label": int32 scalar}.
  """
  if split not in _SPLITS:
    raise ValueError(f"synthetic dataset: unknown split {split!r}; expected one of {sorted(_SPLITS)}")
  if int(num_frames) < 1 or int(resolution) < 8:
    raise ValueError(f"synthetic dataset: need num_frames >= 1 and resolution >= 8, got "
                     f"{num_frames} and {resolution}")
  ds = tf.data.Dataset.range(int(start_index), tf.int64.max)
  return ds.map(
      lambda i: synthetic_example(i, num_frames=int(num_frames), resolution=int(resolution), seed=int(seed),
                                  split=split),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
