"""eval.command: the one command-line convention (absl flags, one-line errors with exit 2)."""
import os
import subprocess
import sys

from absl import flags
from ml_collections import config_flags

from eval import command
from eval.errors import EvalError


def _define(fv, argv):
  flags.DEFINE_integer("n", 1, "A number.", lower_bound=1, flag_values=fv)
  flags.DEFINE_string("out", None, "Output.", flag_values=fv)


def _run(argv, body=lambda fv, args: print(f"n={fv.n}"), **kw):
  return command.main(["prog"] + argv, define_flags=_define, body=body, usage="prog: test command", **kw)


def test_good_flags_run_the_body(capsys):
  assert _run(["--n=3"]) == 0
  assert capsys.readouterr().out == "n=3\n"


def test_bad_flag_value_is_one_line_and_exit_2(capsys):
  assert _run(["--n=0"]) == 2
  err = capsys.readouterr().err
  assert err.startswith("error: ") and err.count("\n") == 1 and "--n" in err


def test_unknown_flag_and_stray_arguments(capsys):
  assert _run(["--nope=1"]) == 2
  assert "nope" in capsys.readouterr().err
  assert _run(["stray"]) == 2
  assert "unexpected arguments: stray" in capsys.readouterr().err
  assert _run(["a", "b"], body=lambda fv, args: print(args), allow_args=True) == 0
  assert capsys.readouterr().out == "['a', 'b']\n"


def test_user_errors_become_one_line_exit_2_and_others_propagate(capsys):
  """Only the user-error class (EvalError and what derives from it, dvd_gan's UserError) becomes one line and
  exit 2; any other exception raised by a command's body is a bug and propagates with its traceback."""
  def body(fv, args):
    raise EvalError("bad video\nfile x.mp4")

  assert _run([], body=body) == 2
  assert capsys.readouterr().err == "error: bad video file x.mp4\n"

  for error in (FileNotFoundError("no such file: a.npz"), ValueError("a bug"), KeyError("k")):
    def failing(fv, args, error=error):
      raise error
    try:
      _run([], body=failing)
      raise AssertionError(f"{type(error).__name__} must propagate")
    except type(error):
      pass
  assert capsys.readouterr().err == ""


def test_a_config_override_naming_a_missing_key_is_a_flag_error(capsys, tmp_path):
  """Errors raised while the command line is parsed (an ml_collections `--config.key=value` naming a key the
  config lacks) are flag errors: one line, exit 2."""
  config = tmp_path / "c.py"
  config.write_text("import ml_collections\n\ndef get_config():\n  return ml_collections.ConfigDict({'a': 1})\n")

  def define(fv, argv):
    config_flags.DEFINE_config_file("config", None, "Config.", sys_argv=argv, flag_values=fv)
  argv = ["prog", f"--config={config}", "--config.nope=2"]
  assert command.main(argv, define_flags=define, body=lambda fv, args: None) == 2
  err = capsys.readouterr().err
  assert err.startswith("error: ") and err.count("\n") == 1 and "nope" in err


def test_one_line_keeps_quotes_of_the_message():
  assert command.one_line(EvalError("layer 'avgpool'\nvs 'logits'")) == "layer 'avgpool' vs 'logits'"
  assert command.one_line(KeyError("train.nope")) == "train.nope"
  assert command.one_line(ValueError()) == "ValueError"


def test_required_flag_and_help(capsys):
  assert _run([], body=lambda fv, args: command.require(fv, "out")) == 2
  assert capsys.readouterr().err == "error: --out is required\n"
  assert _run(["--help"]) == 0
  out = capsys.readouterr().out
  assert out.startswith("prog: test command") and "--out" in out


def test_flags_are_fresh_per_call():
  seen = []
  assert _run(["--n=5"], body=lambda fv, args: seen.append(fv.n)) == 0
  assert _run([], body=lambda fv, args: seen.append(fv.n)) == 0
  assert seen == [5, 1]


def test_console_entry_point_survives_a_closed_pipe():
  """`cmd --help | head -1`: the reader closes the pipe early; the command ends with status 141 and no
  traceback on stderr."""
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  code = ("import sys\nfrom eval import command\n"
          "def main(argv):\n  for i in range(100000):\n    print('line', i)\n  return 0\n"
          "command.run(main)\n")
  env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
  proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
  proc.stdout.readline()
  proc.stdout.close()  # what `head -1` does after its line
  err = proc.stderr.read().decode()
  assert proc.wait(timeout=120) == 141, err
  assert "Traceback" not in err and "BrokenPipe" not in err, err
