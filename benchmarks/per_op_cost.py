"""What one op costs TensorFlow's executor on this CPU, with the training configs' threads.

    python benchmarks/per_op_cost.py [--ops=10000] [--json=benchmarks/results/per_op_cost.json]

A tf.function of N tiny ops (N = --ops / 10 and --ops; x * a + b on a 4x4 tensor read from a variable, so
constant folding cannot remove them; Grappler off, so every op is executed) in one chain and in 50 independent
chains, with one intra-op and two inter-op threads (experiments/tiny.py, demo.py). Best of --repeats calls;
microseconds per op.
Multiplied by a step's op count (run_all.py's step part `ops`) it bounds what fewer ops can save there.
Then a chain of --ops / 10 calls of one XLA-compiled function of the same two ops (`jit_compile=True`: the
executor runs each call as one op): microseconds per call, and how many plain ops (at the marginal cost) cost as
much.
"""
import os
import sys
import time

from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from benchmarks.perf import configs_threads  # noqa: E402
from eval import command, io  # noqa: E402


def define_flags(fv, argv):
  del argv
  flags.DEFINE_string("json", None, "Also write the figures here as JSON.", flag_values=fv)
  flags.DEFINE_integer("repeats", 20, "Timed calls per function (best of).", lower_bound=1, flag_values=fv)
  flags.DEFINE_integer("ops", 10000, "Ops of the largest function (the tiny step has ~10,600).", lower_bound=100,
                       flag_values=fv)


def _chains(variable, ops: int, chains: int):
  import tensorflow as tf  # noqa: PLC0415 - after the thread settings

  @tf.function
  def f():
    outs = []
    for c in range(chains):
      x = variable.read_value()
      for _ in range(ops // chains // 2):
        x = x * 1.0001 + float(c)  # two ops per line
      outs.append(x)
    return tf.add_n(outs)
  return f


def _compiled_calls(variable, calls: int):
  import tensorflow as tf  # noqa: PLC0415 - after the thread settings

  step = tf.function(lambda x: x * 1.0001 + 1.0, jit_compile=True, autograph=False)

  @tf.function
  def f():
    x = variable.read_value()
    for _ in range(calls):
      x = step(x)
    return x
  return f


def _best_ms(f, repeats):
  f()  # traces (and compiles)
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    f().numpy()
    best = min(best, time.perf_counter() - start)
  return best * 1e3


def body(fv, args):
  del args
  tf = configs_threads.start(fv.json)
  tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
  from benchmarks.perf import common  # noqa: PLC0415 - imports TensorFlow: after the thread settings
  from dvd_gan import flops  # noqa: PLC0415 - as common
  variable = tf.Variable(tf.ones([4, 4]))
  env = common.environment()
  rows = []
  for ops, chains in ((fv.ops // 10, 1), (fv.ops, 1), (fv.ops, 50)):  # (ops, independent chains)
    f = _chains(variable, ops, chains)
    ms = _best_ms(f, fv.repeats)
    n = flops.count_concrete(f.get_concrete_function()).num_ops  # counted as run_all counts a step's ops
    rows.append({"ops": n, "chains": chains, "ms": round(ms, 3), "us_per_op": round(ms / n * 1e3, 3)})
  print(f"{env['machine']['cpus']} x {env['machine']['cpu']}, TensorFlow {env['tensorflow']}, load "
        f"{os.getloadavg()[0]:.2f}, 1 intra-op / 2 inter-op threads\n"
        "| executed ops | independent chains | ms per call | us per op |\n|---|---|---|---|")
  for r in rows:
    print(f"| {r['ops']} | {r['chains']} | {r['ms']:.2f} | {r['us_per_op']:.2f} |")
  # The call's own cost cancels out of the difference of the two one-chain functions.
  small, large = rows[0], rows[1]
  marginal = (large["ms"] - small["ms"]) * 1e3 / (large["ops"] - small["ops"])
  print(f"marginal cost of one op (one chain, {small['ops']} -> {large['ops']} ops): {marginal:.2f} us")
  calls = fv.ops // 10
  f = _compiled_calls(variable, calls)
  ms = _best_ms(f, fv.repeats)
  count = flops.count_concrete(f.get_concrete_function())
  per_call = ms * 1e3 / calls
  compiled = {"calls": calls, "ops": count.num_ops, "compiled_calls": count.compiled_calls, "ms": round(ms, 3),
              "us_per_call": round(per_call, 3), "plain_ops_per_call": round(per_call / marginal, 1)}
  print(f"one XLA-compiled call of the same two ops (a chain of {calls}, {count.num_ops} executed ops): "
        f"{per_call:.2f} us, as much as {compiled['plain_ops_per_call']} chained plain ops")
  if fv.json:
    io.write_json(fv.json, {"environment": env, "rows": rows, "marginal_us_per_op": round(marginal, 3),
                            "compiled_call": compiled, "load_after": os.getloadavg()[0]})


def main(argv=None) -> int:
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
