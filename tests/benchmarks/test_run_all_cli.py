"""benchmarks/run_all.py follows the project's CLI convention (eval/command.py): bad input is one line and exit
2, before any measurement starts; the table printer shows targets as PASS / MISS."""
import os
import sys

from tests.repo_files import load_module

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(name, path):
  return load_module(path, name)


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


def test_paper_memory_estimates_from_two_batch_sizes():
  """The memory-per-video row: a straight line through the peaks at batch 1 and 2; a batch that cannot fit
  even one video says so instead of a negative batch; a failed batch 2 is reported as measured, batch 1."""
  if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
  from benchmarks.perf import common, training  # noqa: PLC0415 - after ROOT is put on sys.path just above
  gib = common.GIB
  assert training.largest_batch(fixed=10 * gib, per_video=3 * gib, budget=24 * gib) == 4
  assert training.largest_batch(fixed=17 * gib, per_video=1 * gib, budget=16 * gib) == 0
  row = training._paper_memory_row("m", 14 * gib, 17 * gib, None, 22.0)
  assert row["value"] == 3.0 and "in 24 GiB 4," in row["note"] and "in 16 GiB (TPU v3 core) 1" in row["note"]
  row = training._paper_memory_row("m", 17 * gib, 17.5 * gib, None, 22.0)
  assert "in 16 GiB (TPU v3 core) none (batch 1 needs 17.00 GiB)" in row["note"]
  row = training._paper_memory_row("m", 14 * gib, None, "exit 1: out of memory", 22.0)
  assert (row["value"] is None and "batch 2 failed" in row["note"]
          and "largest batch in 24 GiB 1 (measured)" in row["note"])
