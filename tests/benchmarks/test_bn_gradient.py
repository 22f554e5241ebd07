"""benchmarks/bn_gradient.py: its two sides are the two gradients of the same step, and it reports both."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_times_the_automatic_and_the_written_out_batch_norm_gradient_of_one_step(tmp_path):
  """A process of its own (thread settings first): the tiny step with the automatic BN gradient executes more
  ops than with the written-out one (the same forward, a shorter backward), every round of each side is timed,
  and the table and the JSON agree."""
  out = tmp_path / "bn.json"
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bn_gradient.py"), "--configs=tiny",
                         "--rounds=2", "--steps=1", f"--json={out}"], capture_output=True, text=True, timeout=600,
                        check=False)
  assert proc.returncode == 0, proc.stderr[-2000:]
  (result,) = json.loads(out.read_text())["results"]
  automatic, written = result["sides"]["automatic"], result["sides"]["written-out"]
  assert automatic["ops"] > written["ops"] > 0
  assert len(automatic["ms"]) == len(written["ms"]) == 2 and min(automatic["ms"] + written["ms"]) > 0
  rows = [line.split("|") for line in proc.stdout.splitlines() if line.startswith("| tiny |")]
  assert [(r[2].strip(), int(r[3])) for r in rows] == [("automatic", automatic["ops"]),
                                                       ("written-out", written["ops"])]
