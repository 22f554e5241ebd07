"""Spectral normalisation a network at a time against the layers' own power iterations, in the training step.

    python benchmarks/spectral_norm_batching.py [--configs=tiny,demo] [--rounds=8] [--steps=20]
        [--json=benchmarks/results/spectral_norm_batching.json]

Each spectrally normalised layer runs its own power iteration (dvd_gan/layers/spectral_norm.py): ~33 ops
per layer per forward and backward pass, about half of the tiny step's ops. This measures whether computing
the kernels of a whole network together (fewer, larger ops) makes the step faster, with three formulations,
each handing every layer of G, DS and DT its kernel at the start of a training call of the network (the
mathematics of each layer unchanged: one power iteration from its stored `u`, gradient through sigma):

  * per layer: the layers as shipped (the reference);
  * flat: all weights flattened and concatenated; u W^T and v W as segment sums over the entries' rows and
    columns (gathers and segment sums over every weight entry), ~25 ops per network call;
  * XLA: the layers' own `power_iteration`, layer by layer, in one XLA-compiled function per network call
    (its gradient compiled too);
  * grouped: layers whose weights reshape to the same `[n, m]` stacked and iterated as one batched matrix
    product; a layer alone in its shape runs its own iteration.

In one process, for each config, one trainer per formulation (each step traced while its formulation is in
place), timed in alternating rounds of --steps steps (the order rotates every round); one intra-op and two
inter-op threads (the configs' setting). Before timing, every formulation's kernels and weight gradients are
compared with the per-layer ones on the same weights (largest absolute difference printed). Prints per config
and formulation the ops per step (an XLA function's call counts as one op: the executor runs it as one), the
median and best ms per step and the median of the per-round ratios formulation / per layer (< 1: faster).
"""
import collections
import contextlib
import functools
import os
import sys
import threading
import time

from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from benchmarks.perf import configs_threads  # noqa: E402
from eval import command, io  # noqa: E402

FORMULATIONS = ("per layer", "flat", "XLA", "grouped")
_local = threading.local()


def define_flags(fv, argv):
  del argv
  flags.DEFINE_list("configs", ["tiny", "demo"], "Experiment configs whose training step is timed.", flag_values=fv)
  flags.DEFINE_integer("rounds", 8, "Alternating rounds per config.", lower_bound=2, flag_values=fv)
  flags.DEFINE_integer("steps", 20, "Steps per formulation and round.", lower_bound=1, flag_values=fv)
  flags.DEFINE_string("json", None, "Also write the figures here as JSON.", flag_values=fv)


# ---- the formulations: {id(layer): (kernel, u_new)} for the spectrally normalised layers of a network -------

def _flat(layers, tf, np, sn):
  """Gathers and segment sums over the concatenated weights (module docstring)."""
  shapes = [tuple(layer._sn_weight.shape) for layer in layers]
  rows = [int(np.prod(s[:-1])) for s in shapes]
  cols = [int(s[-1]) for s in shapes]
  sizes = [n * m for n, m in zip(rows, cols)]
  layer = np.arange(len(layers), dtype=np.int32)
  cols_of_row = np.repeat(np.asarray(cols, np.int64), rows)
  row = np.repeat(np.arange(sum(rows), dtype=np.int32), cols_of_row)                 # entry -> global row
  first_entry_of_row = np.cumsum(cols_of_row) - cols_of_row
  first_col_of_row = np.repeat(np.cumsum(cols) - np.asarray(cols), rows)
  col = (np.arange(sum(sizes)) - first_entry_of_row[row] + first_col_of_row[row]).astype(np.int32)
  layer_of_row, layer_of_col = tf.constant(np.repeat(layer, rows)), tf.constant(np.repeat(layer, cols))

  def normalize(x, ids):
    squares = tf.math.unsorted_segment_sum(tf.square(x), ids, len(layers))
    return x * tf.gather(tf.math.rsqrt(tf.maximum(squares, sn._NORMALIZE_EPS)), ids)

  w = tf.concat([tf.reshape(tf.convert_to_tensor(x._sn_weight.value), [-1]) for x in layers], axis=0)
  u = tf.reshape(tf.concat([x.u.value for x in layers], axis=1), [-1])
  row, col = tf.constant(row), tf.constant(col)
  v = tf.stop_gradient(normalize(tf.math.unsorted_segment_sum(w * tf.gather(u, col), row, sum(rows)), layer_of_row))
  vw = tf.math.unsorted_segment_sum(w * tf.gather(v, row), col, sum(cols))
  u_new = tf.stop_gradient(normalize(vw, layer_of_col))
  sigma = tf.maximum(tf.math.unsorted_segment_sum(vw * u_new, layer_of_col, len(layers)),
                     [x.sn_epsilon for x in layers])
  kernels = tf.split(w / tf.gather(sigma, tf.constant(np.repeat(layer, sizes))), sizes)
  u_new = tf.split(tf.reshape(u_new, [1, -1]), cols, axis=1)
  return {id(x): (tf.reshape(k, s), un) for x, k, s, un in zip(layers, kernels, shapes, u_new)}


def _xla_kernels(tf, sn):
  def kernels(weights, us, epsilons):
    out = []
    for w, u, epsilon in zip(weights, us, epsilons):
      sigma, u_new = sn.power_iteration(tf.reshape(w, [-1, w.shape[-1]]), u, epsilon)
      out.append((w / sigma, u_new))
    return out
  return tf.function(kernels, jit_compile=True, autograph=False)


def _xla(layers, tf, compiled):
  out = compiled([tf.convert_to_tensor(x._sn_weight.value) for x in layers], [x.u.value for x in layers],
                 tuple(x.sn_epsilon for x in layers))
  return {id(x): ku for x, ku in zip(layers, out)}


def _grouped(layers, tf, np):
  """Layers of equal `[n, m]` as one batched power iteration; a layer alone in its shape is left out."""
  groups = collections.defaultdict(list)
  for x in layers:
    s = tuple(x._sn_weight.shape)
    groups[(int(np.prod(s[:-1])), int(s[-1]))].append(x)
  prepared = {}
  for (n, m), group in groups.items():
    if len(group) < 2:
      continue
    w = tf.stack([tf.reshape(tf.convert_to_tensor(x._sn_weight.value), [n, m]) for x in group])   # [k, n, m]
    u = tf.stack([x.u.value for x in group])                                                       # [k, 1, m]
    v = tf.stop_gradient(tf.math.l2_normalize(tf.matmul(u, w, transpose_b=True), axis=-1, epsilon=1e-12))
    vw = tf.matmul(v, w)                                                                           # [k, 1, m]
    u_new = tf.stop_gradient(tf.math.l2_normalize(vw, axis=-1, epsilon=1e-12))
    epsilon = tf.constant([[[x.sn_epsilon]] for x in group], tf.float32)
    sigma = tf.maximum(tf.reduce_sum(vw * u_new, axis=[1, 2], keepdims=True), epsilon)
    for x, k, un in zip(group, tf.unstack(w / sigma), tf.unstack(u_new)):
      prepared[id(x)] = (tf.reshape(k, x._sn_weight.shape), un)
  return prepared


@contextlib.contextmanager
def _installed(formulation):
  """While in place, every training call of G, DS or DT prepares its layers' kernels with `formulation`, and
  each layer takes its own kernel (and assigns its u_new) once, instead of running its own iteration."""
  import numpy as np  # noqa: PLC0415 - after the thread settings (module docstring of configs_threads)
  import tensorflow as tf  # noqa: PLC0415 - as above
  from dvd_gan.layers import spectral_norm as sn  # noqa: PLC0415 - as above
  from dvd_gan.models import discriminators, generator  # noqa: PLC0415 - as above

  if formulation == "per layer":
    yield
    return
  compiled = _xla_kernels(tf, sn) if formulation == "XLA" else None
  prepare = {"flat": lambda ls: _flat(ls, tf, np, sn), "XLA": lambda ls: _xla(ls, tf, compiled),
             "grouped": lambda ls: _grouped(ls, tf, np)}[formulation]
  shipped_kernel = sn._SpectralNormLayer.spectral_kernel

  def spectral_kernel(self, training=None):
    prepared = getattr(_local, "prepared", None) or {}
    if id(self) not in prepared:
      return shipped_kernel(self, training)
    kernel, u_new = prepared.pop(id(self))
    if training:
      self.u.assign(u_new)
    return tf.cast(kernel, self.compute_dtype)

  def wrap(call):
    @functools.wraps(call)  # Keras reads the call's signature (its `training` argument)
    def wrapped(self, *args, **kwargs):
      layers = [x for x in self._flatten_layers(include_self=False) if isinstance(x, sn._SpectralNormLayer)]
      if not kwargs.get("training") or any(getattr(x, "_sn_weight", None) is None for x in layers):
        return call(self, *args, **kwargs)
      _local.prepared = prepare(layers)
      try:
        return call(self, *args, **kwargs)
      finally:
        _local.prepared = None
    return wrapped

  classes = (generator.Generator, discriminators.SpatialDiscriminator, discriminators.TemporalDiscriminator)
  calls = {cls: cls.call for cls in classes}
  sn._SpectralNormLayer.spectral_kernel = spectral_kernel
  for cls in classes:
    cls.call = wrap(calls[cls])
  try:
    yield prepare
  finally:
    sn._SpectralNormLayer.spectral_kernel = shipped_kernel
    for cls in classes:
      cls.call = calls[cls]


def _largest_differences(models):
  """{formulation: (max |kernel difference|, max |gradient difference|)} against the per-layer kernels, on the
  same weights and u, the gradient of sum(kernel * r) for a fixed random r per layer."""
  import tensorflow as tf  # noqa: PLC0415 - after the thread settings
  from dvd_gan.layers import spectral_norm as sn  # noqa: PLC0415 - as above

  out = {}
  for formulation in FORMULATIONS[1:]:
    dk = dg = 0.0
    with _installed(formulation) as prepare:
      for model in models:
        layers = [x for x in model._flatten_layers(include_self=False) if isinstance(x, sn._SpectralNormLayer)]
        weights = [x._sn_weight for x in layers]
        r = [tf.random.stateless_normal(w.shape, seed=[i, 1]) for i, w in enumerate(weights)]
        with tf.GradientTape(persistent=True) as tape:
          reference = [x._normalize(update_u=False) for x in layers]
          prepared = prepare(layers)
          candidate = [prepared[id(x)][0] if id(x) in prepared else ref for x, ref in zip(layers, reference)]
          loss_ref = tf.add_n([tf.reduce_sum(k * ri) for k, ri in zip(reference, r)])
          loss_new = tf.add_n([tf.reduce_sum(k * ri) for k, ri in zip(candidate, r)])
        g_ref, g_new = tape.gradient(loss_ref, weights), tape.gradient(loss_new, weights)
        dk = max([dk] + [float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(reference, candidate)])
        dg = max([dg] + [float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(g_ref, g_new)])
    out[formulation] = (dk, dg)
  return out


def _executor_ops(graph):
  """Ops the executor runs for one call of `graph`: called functions walked, an XLA-compiled one as one op."""
  from dvd_gan import flops  # noqa: PLC0415 - after the thread settings

  count = 0
  for op in graph.get_operations():
    if op.type in flops._NOT_EXECUTED:
      continue
    count += 1
    xla = op.node_def.attr["_XlaMustCompile"].b if "_XlaMustCompile" in op.node_def.attr else False
    if not xla and op.type in ("PartitionedCall", "StatefulPartitionedCall"):
      count += sum(_executor_ops(g) for g in flops._called_graphs(op)) - 1
  return count


def _median(values):
  return sorted(values)[len(values) // 2]


def measure(name: str, rounds: int, steps: int) -> dict:
  """The formulations of config `name` (module docstring)."""
  from benchmarks.perf import common, training  # noqa: PLC0415 - imports TensorFlow: after the thread settings
  from dvd_gan import experiments  # noqa: PLC0415 - as above

  config = experiments.load(name)
  trainers = {}
  for formulation in FORMULATIONS:
    with _installed(formulation):
      trainer, iterator, _ = training._trainer(config)
      for _ in range(3):
        common.sync(trainer.train_step(iterator))
    ops = _executor_ops(trainer.train_step.get_concrete_function(iterator).graph)
    trainers[formulation] = (trainer, iterator, ops)
  first = trainers[FORMULATIONS[0]][0]
  differences = _largest_differences((first.G, first.DS, first.DT))
  ms = {f: [] for f in FORMULATIONS}
  for r in range(rounds):
    for formulation in FORMULATIONS[r % len(FORMULATIONS):] + FORMULATIONS[:r % len(FORMULATIONS)]:
      trainer, iterator, _ = trainers[formulation]
      t0 = time.perf_counter()
      for _ in range(steps):
        out = trainer.train_step(iterator)
      common.sync(out)
      ms[formulation].append((time.perf_counter() - t0) / steps * 1e3)
  result = {"config": name, "rounds": rounds, "steps": steps, "formulations": {}}
  for f in FORMULATIONS:
    ratios = [a / b for a, b in zip(ms[f], ms[FORMULATIONS[0]])]
    result["formulations"][f] = {
        "ops": trainers[f][2], "median_ms": round(_median(ms[f]), 2), "best_ms": round(min(ms[f]), 2),
        "ratio_median": round(_median(ratios), 3), "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3), "ms": [round(v, 2) for v in ms[f]],
        "max_kernel_difference": differences.get(f, (0.0, 0.0))[0],
        "max_gradient_difference": differences.get(f, (0.0, 0.0))[1]}
  return result


def body(fv, args):
  del args
  configs_threads.start(fv.json)
  from benchmarks.perf import common  # noqa: PLC0415 - imports TensorFlow: after the thread settings
  env = common.environment()
  load_before = os.getloadavg()[0]
  results = [measure(name, fv.rounds, fv.steps) for name in fv.configs]
  print(f"{env['machine']['cpus']} x {env['machine']['cpu']}, TensorFlow {env['tensorflow']}, load "
        f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}, 1 intra-op / 2 inter-op threads, {fv.rounds} rounds of "
        f"{fv.steps} steps\n| config | spectral norm | ops per step | ms per step, median (best) | "
        "/ per layer, median of rounds (range) | largest difference: kernels, gradients |\n|---|---|---|---|---|---|")
  for r in results:
    for f, s in r["formulations"].items():
      ratio = f"{s['ratio_median']:.3f}x ({s['ratio_min']:.3f}-{s['ratio_max']:.3f})" if f != FORMULATIONS[0] else ""
      diff = (f"{s['max_kernel_difference']:.1e}, {s['max_gradient_difference']:.1e}"
              if f != FORMULATIONS[0] else "")
      print(f"| {r['config']} | {f} | {s['ops']} | {s['median_ms']:.1f} ({s['best_ms']:.1f}) | {ratio} | {diff} |")
  if fv.json:
    io.write_json(fv.json, {"environment": env, "results": results})


def main(argv=None) -> int:
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
