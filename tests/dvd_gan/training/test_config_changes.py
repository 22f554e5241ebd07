"""dvd_gan.training.config_changes: comparing a config with the run's config.json."""
import os

import numpy as np

from dvd_gan.training import config_changes
from eval import io as eio


def test_numpy_values_compare_equal_to_their_written_config_json(tmp_path):
  """A config holding numpy scalars and arrays, written as config.json, compares unchanged with itself: no
  key shows as changed, and writing it again keeps no history copy (config.1.json)."""
  tree = {"train": {"lr": np.float32(0.5), "steps": np.int64(3)}, "model": {"multipliers": np.array([1, 2])}}
  lines = []
  path = config_changes.write_config(str(tmp_path), tree, log=lines.append)
  assert config_changes.changes(eio.read_json(path), config_changes._as_json(tree)) == []
  config_changes.write_config(str(tmp_path), tree, log=lines.append)
  assert lines == [] and sorted(os.listdir(tmp_path)) == ["config.json"]
