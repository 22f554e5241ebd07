"""Time and peak memory of precision/recall/density/coverage (eval.metrics.prdc) against the brute force.

    python benchmarks/prdc_memory.py [--sizes=2000,10000] [--dim=1024] [--json=benchmarks/results/prdc.json]

For N real and N fake random feature vectors of dimension --dim (I3D avgpool: 1024), times `prdc` with its
default row blocks (1024 rows) and the brute force: the same function with one block of all rows, i.e. the
full [N, N] distance matrices at once (as clovaai/generative-evaluation-prdc computes them). Peak memory is
tracemalloc's peak of numpy allocations during the call (the features themselves excluded: they exist
before). Checks that both give the same four figures. Prints a table and writes JSON.
"""
import json
import os
import platform
import sys
import time
import tracemalloc

import numpy as np
from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from eval import command, io  # noqa: E402
from eval.metrics import prdc as prdc_lib  # noqa: E402


def define_flags(fv, argv):
  del argv
  flags.DEFINE_list("sizes", ["2000", "10000"], "Videos per set.", flag_values=fv)
  flags.DEFINE_integer("dim", 1024, "Feature dimension.", lower_bound=1, flag_values=fv)
  flags.DEFINE_string("json", os.path.join(REPO, "benchmarks", "results", "prdc.json"), "Output JSON.",
                      flag_values=fv)


def measure(real, fake, block_size):
  tracemalloc.start()
  t0, cpu0 = time.perf_counter(), time.process_time()
  figures = prdc_lib.prdc(real, fake, k=5, block_size=block_size)
  wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
  peak = tracemalloc.get_traced_memory()[1]
  tracemalloc.stop()
  return {"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "peak_mib": round(peak / 2**20, 1),
          "figures": figures}


def body(fv, args):
  del args
  rows = []
  for n in (int(s) for s in fv.sizes):
    rng = np.random.default_rng(n)
    real = rng.normal(size=(n, fv.dim))
    fake = rng.normal(size=(n, fv.dim)) * 1.1 + 0.05
    load = os.getloadavg()[0]
    blocked = measure(real, fake, prdc_lib.DEFAULT_BLOCK)
    brute = measure(real, fake, n)
    assert blocked["figures"] == brute["figures"], (blocked["figures"], brute["figures"])
    rows.append({"n": n, "dim": fv.dim, "blocked": blocked, "brute_force": brute, "load_before": round(load, 2),
                 "load_after": round(os.getloadavg()[0], 2)})
    print(f"N = {n:6d}  blocked {blocked['seconds']:7.2f} s {blocked['peak_mib']:8.1f} MiB   "
          f"brute force {brute['seconds']:7.2f} s {brute['peak_mib']:8.1f} MiB   (load {load:.1f})", flush=True)
  record = {"machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "k": 5,
            "block_size": prdc_lib.DEFAULT_BLOCK, "rows": rows}
  io.write_text(fv.json, json.dumps(record, indent=2) + "\n")


def main(argv=None):
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
