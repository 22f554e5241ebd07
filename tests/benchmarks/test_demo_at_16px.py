"""benchmarks/demo_at_16px.py: the 2x2 average against a per-pixel loop; bad runs are one-line errors."""
import json

import numpy as np

from dvd_gan import experiments


def test_average_2x2_is_the_rounded_mean_of_each_block(benchmark_script):
  videos = np.random.RandomState(0).randint(0, 256, size=(2, 3, 4, 6, 3)).astype(np.uint8)
  got = benchmark_script("demo_at_16px").average_2x2(videos)
  assert got.shape == (2, 3, 2, 3, 3) and got.dtype == np.uint8
  for i in range(2):
    for j in range(3):
      block = videos[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].astype(np.float64)
      np.testing.assert_array_equal(got[:, :, i, j], np.round(block.mean(axis=(2, 3))))


def test_missing_run_and_16px_run_are_one_line_errors(tmp_path, capsys, benchmark_script):
  script = benchmark_script("demo_at_16px")
  assert script.main(["demo_at_16px", f"--workdirs={tmp_path / 'nope'}"]) != 0
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("error: ") and "config.json" in err[0]
  run = tmp_path / "run16"
  run.mkdir()
  (run / "config.json").write_text(json.dumps(experiments.load("tiny").to_dict()))
  assert script.main(["demo_at_16px", f"--workdirs={run}"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "32x32" in err[0]


def test_draws_start_at_the_end_of_run_figures_seed_and_zero_draws_is_a_one_line_error(tmp_path, capsys,
                                                                                         benchmark_script):
  """The first draw is the sample set of the end-of-run figures (seed + 2), the others follow without repeats;
  --draws=0 fails before any run is read."""
  script = benchmark_script("demo_at_16px")
  config = experiments.load("demo")
  assert script.draw_seeds(config, 1) == [int(config.seed) + 2]
  assert script.draw_seeds(config, 4) == [int(config.seed) + 2 + i for i in range(4)]
  assert script.main(["demo_at_16px", f"--workdirs={tmp_path}", "--draws=0"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "--draws" in err[0]


def test_noise_is_fresh_per_frame_of_the_asked_size_and_bad_levels_are_one_line_errors(tmp_path, capsys,
                                                                                         benchmark_script):
  """--noise adds Gaussian noise of the given 8-bit levels, drawn anew every frame (a flat grey video gets
  frame-to-frame changes of 2 s / sqrt(pi) on average), deterministic for its seed, and holding the
  background still takes it away again; a level that is not a positive number fails before any run is read."""
  script = benchmark_script("demo_at_16px")
  flat = np.full((8, 6, 16, 16, 3), 100, np.uint8)
  noisy = script.add_noise(flat, 2.0)
  np.testing.assert_array_equal(noisy, script.add_noise(flat, 2.0))
  assert abs(np.std(noisy.astype(float) - 100) - 2.0) < 0.1
  np.testing.assert_allclose(script.flicker(noisy), 2 * 2.0 / np.sqrt(np.pi), rtol=0.05)
  assert script.flicker(flat) == 0.0
  held = script.hold_background(noisy)
  assert held.dtype == np.uint8 and script.flicker(held) == 0.0
  assert np.abs(held.astype(float) - 100).mean() < 1.0   # the mean of 6 frames: sd 2 / sqrt(6)
  for bad in ("--noise=one", "--noise=0"):
    assert script.main(["demo_at_16px", f"--workdirs={tmp_path}", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--noise" in err[0]


def test_a_truncation_that_is_not_positive_is_a_one_line_error(tmp_path, capsys, benchmark_script):
  """--truncation scales z's standard deviation: zero or below fails before any run is read."""
  script = benchmark_script("demo_at_16px")
  for bad in ("--truncation=0", "--truncation=-0.5"):
    assert script.main(["demo_at_16px", f"--workdirs={tmp_path}", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--truncation" in err[0]
