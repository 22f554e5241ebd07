"""`dvd-gan-train` / `python -m dvd_gan.train` on bad user input: one line `error: ...` on stderr, exit code 2,
no traceback; and nothing is parsed or run when the module is imported."""
import os
import subprocess
import sys

import pytest

from dvd_gan import train as train_cli

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("args, expected", [
    (["--config=/no/such/experiment.py"], "no such file: /no/such/experiment.py"),
    (["--config=no_such_experiment"], "no experiment named 'no_such_experiment'"),
    (["--config=ablation_k:3"], "k=3 is not a Figure 7 setting"),
    (["--config.train.no_such_key=3"], "field the config does not have: train.no_such_key"),
    (["--config.batch_size=abc"], "--config.batch_size=abc"),
    (["--strategy=warp_drive"], "--strategy=warp_drive"),
    (["--config.data.name=no_such_dataset"], "no_such_dataset"),
    (["stray_argument"], "unexpected arguments: stray_argument"),
])
def test_bad_input_gives_one_line_error(args, expected, tmp_path, capsys):
  """A missing config file, an unknown experiment name, a failing get_config argument, an override of an
  unknown field, a badly typed override, an unknown strategy, an unknown dataset and a stray argument each
  give exit code 2 and exactly one `error: ...` line naming the problem, and write nothing."""
  code = train_cli.main(["dvd-gan-train", f"--workdir={tmp_path / 'run'}", *args])
  out, err = capsys.readouterr()
  assert code == 2, (out, err)
  lines = err.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
  assert not (tmp_path / "run" / "checkpoints").exists()


def test_help_lists_the_flags(capsys):
  assert train_cli.main(["dvd-gan-train", "--help"]) == 0
  out = capsys.readouterr().out
  assert "dvd-gan-train --config=NAME" in out and "--workdir" in out and "--strategy" in out


def _error_lines(stderr):
  """stderr without TensorFlow's C++ start-up chatter (cuda stubs, absl log init)."""
  return [l for l in stderr.splitlines()
          if l.strip() and not any(s in l for s in ("cuda", "absl::InitializeLog", "cpu_feature_guard",
                                                    "AVX", "oneDNN", "rebuild TensorFlow"))]


def test_python_m_dvd_gan_train_bad_override(tmp_path):
  """The same through `python -m dvd_gan.train` in a subprocess: exit 2, one error line, no traceback."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
             PYTHONPATH=_REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
  r = subprocess.run([sys.executable, "-m", "dvd_gan.train", f"--workdir={tmp_path / 'run'}",
                      "--config=tiny", "--config.train.no_such_key=3"],
                     cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
  lines = _error_lines(r.stderr)
  assert r.returncode == 2, r.stderr[-2000:]
  assert lines == ["error: --config override names a field the config does not have: train.no_such_key"], lines
  assert "Traceback" not in r.stderr


def test_importing_the_commands_parses_no_flags():
  """Importing a command module defines no global flag and does not parse sys.argv (nothing at import time)."""
  code = ("import sys; sys.argv = ['x', '--no_such_flag']\n"
          "from absl import flags\n"
          "import dvd_gan.train, dvd_gan.export, eval.cli\n"
          "assert 'workdir' not in flags.FLAGS and 'config' not in flags.FLAGS, 'global flags defined'\n"
          "print('ok')\n")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
             PYTHONPATH=_REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
  r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
  assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
