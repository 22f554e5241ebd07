"""benchmarks/per_op_cost.py: the functions it times execute the ops it says, and it reports their cost."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_reports_the_cost_of_the_ops_it_executes(tmp_path):
  """A process of its own (the thread settings must precede TensorFlow's runtime): every row executes at least
  the asked number of ops (plus a few per chain: the variable read, the final sum), in the asked number of
  chains, at a positive cost per op; the table and the JSON agree; the chain of XLA-compiled calls makes that
  many calls, each one executed op, at a positive cost."""
  out = tmp_path / "cost.json"
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "per_op_cost.py"), "--ops=400",
                         "--repeats=2", f"--json={out}"], capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 0, proc.stderr[-2000:]
  rows = json.loads(out.read_text())["rows"]
  assert [(r["chains"]) for r in rows] == [1, 1, 50]
  for r, asked in zip(rows, (40, 400, 400)):
    assert asked <= r["ops"] <= asked + 2 * r["chains"] + 4 and r["us_per_op"] > 0
  table = [line for line in proc.stdout.splitlines() if line.startswith("| ") and line[2].isdigit()]
  assert [int(line.split("|")[1]) for line in table] == [r["ops"] for r in rows]
  assert "marginal cost of one op" in proc.stdout and "marginal_us_per_op" in json.loads(out.read_text())
  compiled = json.loads(out.read_text())["compiled_call"]
  assert compiled["calls"] == compiled["compiled_calls"] == 40 and 40 <= compiled["ops"] <= 44
  assert compiled["us_per_call"] > 0 and "one XLA-compiled call" in proc.stdout
