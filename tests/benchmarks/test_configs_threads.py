"""benchmarks/perf/configs_threads.py's scripts (the in-process A/B timings): each refuses a bad output path in
one line before it starts TensorFlow or times anything (their sides' equality with the shipped code is checked
in test_bn_gradient.py, test_spectral_norm_batching.py and tests/dvd_gan/training/test_step_optimisations.py)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("script", ["bn_gradient", "d_one_call", "spectral_norm_batching"])
def test_an_output_file_in_a_missing_folder_is_a_one_line_error(tmp_path, script):
  """--json in a folder that does not exist: exit status 2 and one line naming the folder."""
  missing = tmp_path / "no_such_folder" / f"{script}.json"
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", f"{script}.py"), f"--json={missing}"],
                        capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines()[-1] == f"error: output directory does not exist: {missing.parent}"
