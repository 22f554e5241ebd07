"""benchmarks/d_one_call.py: its command refuses a bad output path in one line (its reference side's equality
with the shipped D step is checked in tests/dvd_gan/training/test_step_optimisations.py)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_an_output_file_in_a_missing_folder_is_a_one_line_error(tmp_path):
  """--json in a folder that does not exist: exit status 2 and one line naming the folder, before any timing."""
  missing = tmp_path / "no_such_folder" / "d.json"
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "d_one_call.py"), f"--json={missing}"],
                        capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines()[-1] == f"error: output directory does not exist: {missing.parent}"
