"""benchmarks/run_all.py follows the project's CLI convention (eval/command.py): bad input is one line and exit
2, before any measurement starts; the table printer shows targets as PASS / MISS."""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(name, path):
  spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_unknown_section_is_a_one_line_error(capsys):
  run_all = _load("run_all", "benchmarks/run_all.py")
  assert run_all.main(["run_all", "--sections=peak,nope"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("error: unknown sections nope")


def test_unknown_flag_is_a_one_line_error(capsys):
  run_all = _load("run_all", "benchmarks/run_all.py")
  assert run_all.main(["run_all", "--qiuck"]) == 2
  assert capsys.readouterr().err.startswith("error: ")


def test_table_shows_pass_and_miss(capsys):
  common = _load("bench_common", "benchmarks/perf/common.py")
  rows = [common.row("3 step", "fraction of peak", 0.25, "", ">= 0.60", False, "note"),
          common.row("6 sampling", "ratio", 0.97, "", ">= 0.90", True),
          common.row("peak", "GFLOP/s", 150.0, "GFLOP/s")]
  common.print_table(rows)
  out = capsys.readouterr().out
  assert "MISS" in out.splitlines()[2] and "PASS" in out.splitlines()[3]
  assert "150 GFLOP/s" in out
