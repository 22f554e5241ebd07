"""folder_fvd: a video_folder run is scored against its folder's evaluation split, with the real statistics
cached under the prepared folder's name (its fingerprint), so a changed folder never reuses them."""
import os

import numpy as np
import pytest

from dvd_gan.config import resolve_config
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
