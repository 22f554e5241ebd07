"""benchmarks/demo_at_16px.py: the 2x2 average against a per-pixel loop; bad runs are one-line errors."""
import importlib.util
import json
import os

import numpy as np

from dvd_gan import experiments

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _script():
  spec = importlib.util.spec_from_file_location("demo_at_16px", os.path.join(ROOT, "benchmarks", "demo_at_16px.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_average_2x2_is_the_rounded_mean_of_each_block():
  videos = np.random.RandomState(0).randint(0, 256, size=(2, 3, 4, 6, 3)).astype(np.uint8)
  got = _script().average_2x2(videos)
  assert got.shape == (2, 3, 2, 3, 3) and got.dtype == np.uint8
  for i in range(2):
    for j in range(3):
      block = videos[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].astype(np.float64)
      np.testing.assert_array_equal(got[:, :, i, j], np.round(block.mean(axis=(2, 3))))


def test_missing_run_and_16px_run_are_one_line_errors(tmp_path, capsys):
  script = _script()
  assert script.main(["demo_at_16px", f"--workdirs={tmp_path / 'nope'}"]) != 0
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("error: ") and "config.json" in err[0]
  run = tmp_path / "run16"
  run.mkdir()
  (run / "config.json").write_text(json.dumps(experiments.load("tiny").to_dict()))
  assert script.main(["demo_at_16px", f"--workdirs={run}"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "32x32" in err[0]
