"""`python -m dvd_gan.train` on bad user input: one line `error: ...` on stderr, exit code 2, no traceback."""
import os
import subprocess
import sys

import pytest

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(args, tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
             PYTHONPATH=_REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
  return subprocess.run([sys.executable, "-m", "dvd_gan.train", f"--workdir={tmp_path / 'run'}", *args],
                        cwd=_REPO, env=env, capture_output=True, text=True, timeout=300)


def _error_lines(stderr):
  """stderr without TensorFlow's C++ start-up chatter (cuda stubs, absl log init)."""
  return [l for l in stderr.splitlines()
          if l.strip() and not any(s in l for s in ("cuda", "absl::InitializeLog", "cpu_feature_guard",
                                                    "AVX", "oneDNN", "rebuild TensorFlow"))]


@pytest.mark.parametrize("args, expected", [
    (["--config=/no/such/experiment.py"], "No such file"),
    (["--config.train.no_such_key=3"], "no_such_key"),
    (["--config.batch_size=abc"], "batch_size"),
    (["--strategy=warp_drive"], "strategy"),
    (["--config.data.name=no_such_dataset"], "no_such_dataset"),
])
def test_bad_input_gives_one_line_error(args, expected, tmp_path):
  """A missing config file, an override of an unknown field, a badly typed override, an unknown strategy and
  an unknown dataset each exit with code 2 and print exactly one `error: ...` line naming the problem."""
  r = _run(args, tmp_path)
  lines = _error_lines(r.stderr)
  assert r.returncode == 2, r.stderr[-2000:]
  assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
  assert "Traceback" not in r.stderr
