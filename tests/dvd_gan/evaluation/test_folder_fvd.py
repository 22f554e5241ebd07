"""folder_fvd and folder_fvd_small: a video_folder run is scored against its folder's evaluation split, with
the real statistics cached under the prepared folder's name (its fingerprint), so a changed folder never
reuses them; the video_folder configs evaluate with them during training, and their end-of-run figures take
the same split as reference."""
import os

import numpy as np
import pytest

from dvd_gan import experiments
from dvd_gan.config import resolve_config
from dvd_gan.evaluation import figures
from dvd_gan.evaluation import protocols as run_protocols
from dvd_gan.evaluation.scorer import GeneratorScorer
from dvd_gan.models.build import build_models
from eval import api
from tests.dvd_gan.data.test_video_folder_builder import GOOD, write_folder
from tests.dvd_gan.training.conftest import make_tiny_config
from tests.eval.conftest import TinyNetwork


@pytest.fixture
def tiny_features(monkeypatch):
  net = TinyNetwork()
  monkeypatch.setattr(api, "get_feature_network", lambda name, weights=None: net)
  return net


def test_folder_fvd_scores_against_the_held_out_split_cached_per_fingerprint(tmp_path, tiny_features):
  root = str(tmp_path / "videos")
  write_folder(root, bad=False)
  c = make_tiny_config()
  c.data.name, c.data.videos, c.data.data_dir = "video_folder", root, str(tmp_path / "tfds")
  c.data.eval_split, c.data.prepare_workers, c.eval.batch_size = "validation", 1, 2
  c = resolve_config(c)
  assert run_protocols.final_protocols(c) == ("folder_fvd",)
  stats_dir = str(tmp_path / "stats")
  scorer = GeneratorScorer(c, stats_dir=stats_dir, log=lambda s: None)
  p = run_protocols.get_protocol("folder_fvd")
  real = scorer.real_stats(p)
  assert real.num_items == sum(rel.startswith("validation/") for rel, *_ in GOOD)  # the whole held-out split
  files = os.listdir(stats_dir)
  assert len(files) == 1 and c.data.tfds_config.lower() in files[0].lower()
  assert c.data.tfds_config in real.metadata["dataset"]
  import dataclasses  # noqa: PLC0415 - only here
  result = scorer.score(build_models(c)[0], dataclasses.replace(p, num_fake=4, repeats=0))
  assert np.isfinite(result.values()["folder_fvd/fvd"])
  # The cheap curve's real set is the same held-out split (a file of its own, under the same name).
  small = scorer.real_stats("folder_fvd_small")
  assert small.num_items == real.num_items and np.allclose(small.mean, real.mean)
  assert len(os.listdir(stats_dir)) == 2 and figures.splits(c) == ("validation", "train")


@pytest.mark.parametrize("spec,protocol,every", [("video_folder", "folder_fvd", 5000),
                                                  ("video_folder:small", "folder_fvd_small", 800)])
def test_video_folder_configs_evaluate_against_the_folder(spec, protocol, every):
  """Both configs score a folder_fvd protocol during training; the small one also ends with the figures."""
  c = experiments.load(spec)
  assert c.eval.protocols == (protocol,) and c.eval.every_steps == every
  assert c.eval.fvd_at_end == (spec == "video_folder:small")
  assert run_protocols.final_protocols(c) == ("folder_fvd",)
  assert run_protocols.check_protocol(c, protocol).num_fake == (256 if protocol == "folder_fvd" else 32)
