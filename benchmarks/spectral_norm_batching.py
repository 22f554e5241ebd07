"""Spectral normalisation per layer, batched, per layer XLA-compiled, and a network at a time, in the training step.

    python benchmarks/spectral_norm_batching.py [--configs=tiny,demo] [--ways=per layer,compiled,...] [--rounds=8]
        [--steps=20] [--json=benchmarks/results/spectral_norm_batching.json]

Each spectrally normalised layer runs one power iteration per training call (dvd_gan/layers/spectral_norm.py).
In plain TensorFlow ops that is ~27 ops per layer per forward and backward pass. This measures, in the step,
ways of computing the same kernels (each layer's mathematics unchanged: one power iteration from its stored `u`,
gradient through sigma):

  * per layer: every layer runs `power_iteration` and W / sigma in plain ops, differentiated by TensorFlow (the
    reference: the step with its batched scopes off);
  * batched: the step as shipped (`spectral_norm.batched`, G's layers in its scope, DS's and DT's in one):
    layers whose weights reshape to the same `[n, m]` stacked and iterated as one batched matrix product; a
    layer alone in its shape runs its own iteration;
  * compiled: per layer, W / sigma and u_new as one XLA computation, and the gradient of W / sigma written
    out (u, v fixed: (G - <G, W / sigma> v^T u_new) / sigma, nothing through a clipped sigma) as another;
and three that hand every layer of G, DS and DT its kernel at the start of a training call of the network:
  * flat: all weights flattened and concatenated; u W^T and v W as segment sums over the entries' rows and
    columns (gathers and segment sums over every weight entry), ~25 ops per network call;
  * XLA: the layers' `power_iteration`, layer by layer, in one XLA-compiled function per network call (its
    gradient compiled too);
  * XLA buffer: the weights concatenated into one buffer, the power iterations of all of them as one XLA
    computation and the gradient (written out) as another.

In one process, for each config, one trainer per way (each step traced while its way is in place), timed in
rotating rounds of --steps steps; one intra-op and two inter-op threads (the configs' setting). Before timing,
every way's kernels and weight gradients are compared with the layers' own on the same weights (largest
absolute difference printed). Prints per config and way the ops per step (`dvd_gan.flops`: an XLA function's
call counts as one op, the executor runs it as one), the median and best ms per step and the median of the
per-round ratios way / the first way (< 1: faster).
"""
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
from eval import command  # noqa: E402

_median = configs_threads.median

FORMULATIONS = ("per layer", "batched", "compiled", "flat", "XLA", "XLA buffer")
_local = threading.local()


def define_flags(fv, argv):
  del argv
  configs_threads.define_flags(fv, rounds=8, per="way")
  flags.DEFINE_list("ways", list(FORMULATIONS), "Ways timed, the first one the reference.", flag_values=fv)


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


def _xla_buffer_functions(tf, nm, epsilons):
  """Forward and hand-written backward of the power iterations of layers `[n, m]` over one flat buffer."""
  sizes, cols, rows = [n * m for n, m in nm], [m for _, m in nm], [n for n, _ in nm]

  @tf.function(jit_compile=True, autograph=False)
  def forward(wf, uf):
    ks, uns, vs, ss = [], [], [], []
    for w, u, (n, m), eps in zip(tf.split(wf, sizes), tf.split(uf, cols, axis=1), nm, epsilons):
      wm = tf.reshape(w, [n, m])
      v = tf.math.l2_normalize(tf.matmul(u, wm, transpose_b=True), epsilon=1e-12)
      vw = tf.matmul(v, wm)
      un = tf.math.l2_normalize(vw, epsilon=1e-12)
      s = tf.reduce_sum(vw * un)
      ks.append(w / tf.maximum(s, eps))
      uns.append(un)
      vs.append(v)
      ss.append(s)
    return tf.concat(ks, 0), tf.concat(uns, 1), tf.concat(vs, 1), tf.stack(ss)

  @tf.function(jit_compile=True, autograph=False)
  def backward(gf, kf, unf, vf, sf):
    out = []
    parts = zip(tf.split(gf, sizes), tf.split(kf, sizes), tf.split(unf, cols, axis=1), tf.split(vf, rows, axis=1))
    for i, (g, k, u, v) in enumerate(parts):
      s = sf[i]
      c = tf.where(s >= epsilons[i], tf.reduce_sum(g * k), 0.0)
      out.append((g - c * tf.reshape(tf.matmul(v, u, transpose_a=True), [-1])) / tf.maximum(s, epsilons[i]))
    return tf.concat(out, 0)

  @tf.custom_gradient
  def normalize(wf, uf):
    kf, unf, vf, sf = forward(wf, uf)
    return (kf, unf), lambda gk, gu: (backward(gk, kf, unf, vf, sf), tf.zeros_like(uf))
  return normalize


def _xla_buffer(layers, tf, np, cache):
  """Every layer's kernel and u_new from one concatenated buffer (module docstring); `cache` keeps the compiled
  functions of each network's list of shapes."""
  shapes = [tuple(x._sn_weight.shape) for x in layers]
  key = tuple(shapes)
  if key not in cache:
    nm = [(int(np.prod(s[:-1])), int(s[-1])) for s in shapes]
    cache[key] = _xla_buffer_functions(tf, nm, tuple(x.sn_epsilon for x in layers))
  wf = tf.concat([tf.reshape(tf.convert_to_tensor(x._sn_weight.value), [-1]) for x in layers], 0)
  uf = tf.stop_gradient(tf.concat([x.u.value for x in layers], 1))
  kf, unf = cache[key](wf, uf)
  kernels = tf.split(kf, [int(np.prod(s)) for s in shapes])
  u_new = tf.split(tf.stop_gradient(unf), [s[-1] for s in shapes], axis=1)
  return {id(x): (tf.reshape(k, s), un) for x, k, s, un in zip(layers, kernels, shapes, u_new)}


def _compiled_normalize(tf, sn):
  """`normalize(w, u, sn_epsilon) -> (W / sigma, u_new)`: `power_iteration`'s kernel and u_new as one XLA
  computation per weight shape, its gradient written out as another (module docstring)."""
  def normalize_and_iterate(w, u, sn_epsilon):
    @tf.custom_gradient
    def normalize(w):
      w_mat = tf.reshape(w, [-1, w.shape[-1]])
      v = tf.math.l2_normalize(tf.matmul(u, w_mat, transpose_b=True), epsilon=sn._NORMALIZE_EPS)   # [1, n]
      vw = tf.matmul(v, w_mat)                                                                      # [1, m]
      u_new = tf.math.l2_normalize(vw, epsilon=sn._NORMALIZE_EPS)
      raw = tf.reduce_sum(vw * u_new)
      sigma = tf.maximum(raw, sn_epsilon)
      kernel = w / sigma

      def grad(d_kernel, d_u_new):
        del d_u_new  # u_new is held under stop_gradient in power_iteration
        along = tf.where(raw >= sn_epsilon, tf.reduce_sum(d_kernel * kernel), 0.0)
        return (d_kernel - along * tf.reshape(tf.matmul(v, u_new, transpose_a=True), w.shape)) / sigma
      return (kernel, u_new), grad
    return normalize(w)

  @functools.lru_cache(maxsize=None)
  def compiled(shape, sn_epsilon):  # one function per weight shape, traced once with its static shape
    del shape
    return tf.function(functools.partial(normalize_and_iterate, sn_epsilon=sn_epsilon), jit_compile=True,
                       autograph=False)

  def normalize(w, u, sn_epsilon):
    w, u = tf.convert_to_tensor(w), tf.convert_to_tensor(u)  # tensors: a cached function must not hold variables
    return compiled(tuple(w.shape), float(sn_epsilon))(w, u)
  return normalize


@contextlib.contextmanager
def _compiled_training_calls(tf, sn, normalize):
  """While in place, a layer's training call (the one that updates u) normalises with `normalize`."""
  from dvd_gan.layers.remat import assign_state, read_state  # noqa: PLC0415 - after the thread settings

  shipped = sn._SpectralNormLayer._normalize

  def compiled_normalize(self, update_u):
    if not update_u:
      return shipped(self, update_u)
    kernel, u_new = normalize(tf.convert_to_tensor(self._sn_weight.value), read_state(self.u), self.sn_epsilon)
    assign_state(self.u, lambda: u_new)
    return kernel

  sn._SpectralNormLayer._normalize = compiled_normalize
  try:
    yield
  finally:
    sn._SpectralNormLayer._normalize = shipped


@contextlib.contextmanager
def _installed(formulation):
  """While in place, the training step computes its spectral norms the way `formulation` says: "batched" as
  shipped (the step's `spectral_norm.batched` scopes); "per layer" with each layer's own iteration (the scopes
  off); the others with the scopes off and every training call of G, DS or DT preparing its layers' kernels
  with `formulation`, each layer taking its own kernel (and assigning its u_new) once. Yields `prepare(layers)`
  -> {id(layer): (kernel, u_new)} of the way (empty per layer; only the layers sharing their shape, batched)."""
  import numpy as np  # noqa: PLC0415 - after the thread settings (module docstring of configs_threads)
  import tensorflow as tf  # noqa: PLC0415 - as above
  from dvd_gan.layers import spectral_norm as sn  # noqa: PLC0415 - as above
  from dvd_gan.models import discriminators, generator  # noqa: PLC0415 - as above

  from dvd_gan.training import trainer as trainer_lib  # noqa: PLC0415 - as above

  if formulation == "batched":  # the training step as shipped
    yield sn.batched_kernels
    return
  shipped_scope = trainer_lib.Trainer._spectral_norms
  trainer_lib.Trainer._spectral_norms = lambda self, layers: contextlib.nullcontext()  # no batched scope
  try:
    with _formulation_installed(formulation, np, tf, sn, discriminators, generator) as prepare:
      yield prepare
  finally:
    trainer_lib.Trainer._spectral_norms = shipped_scope


@contextlib.contextmanager
def _formulation_installed(formulation, np, tf, sn, discriminators, generator):
  """`_installed` of a way other than the shipped one (the step's batched scope is off)."""
  if formulation == "per layer":
    yield lambda layers: {}
    return
  if formulation == "compiled":
    normalize = _compiled_normalize(tf, sn)
    with _compiled_training_calls(tf, sn, normalize):
      yield lambda layers: {id(x): normalize(x._sn_weight.value, x.u.value, x.sn_epsilon) for x in layers}
    return
  compiled = _xla_kernels(tf, sn) if formulation == "XLA" else None
  cache = {}
  prepare = {"flat": lambda ls: _flat(ls, tf, np, sn), "XLA": lambda ls: _xla(ls, tf, compiled),
             "XLA buffer": lambda ls: _xla_buffer(ls, tf, np, cache)}[formulation]
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


def _largest_differences(models, ways=FORMULATIONS[1:]):
  """{way: (max |kernel difference|, max |gradient difference|)} against the layers' own kernels (`power_iteration`
  in plain ops), on the same weights and u, the gradient of sum(kernel * r) for a fixed random r per layer."""
  import tensorflow as tf  # noqa: PLC0415 - after the thread settings
  from dvd_gan.layers import spectral_norm as sn  # noqa: PLC0415 - as above

  out = {}
  for formulation in ways:
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


def measure(name: str, rounds: int, steps: int, ways=FORMULATIONS) -> dict:
  """The ways of config `name` (module docstring); the first one is the reference of the ratios."""
  from benchmarks.perf import common, training  # noqa: PLC0415 - imports TensorFlow: after the thread settings
  from dvd_gan import experiments, flops  # noqa: PLC0415 - as above

  ways = tuple(ways)
  config = experiments.load(name)
  trainers = {}
  for formulation in ways:
    with _installed(formulation):
      trainer, iterator, _ = training._trainer(config)
      for _ in range(3):
        common.sync(trainer.train_step(iterator))
    ops = flops.count_concrete(trainer.train_step.get_concrete_function(iterator)).num_ops
    trainers[formulation] = (trainer, iterator, ops)
  first = trainers[ways[0]][0]
  differences = _largest_differences((first.G, first.DS, first.DT), [w for w in ways if w != "per layer"])
  ms = {f: [] for f in ways}
  for r in range(rounds):
    for formulation in ways[r % len(ways):] + ways[:r % len(ways)]:
      trainer, iterator, _ = trainers[formulation]
      t0 = time.perf_counter()
      for _ in range(steps):
        out = trainer.train_step(iterator)
      common.sync(out)
      ms[formulation].append((time.perf_counter() - t0) / steps * 1e3)
  result = {"config": name, "rounds": rounds, "steps": steps, "reference": ways[0], "formulations": {}}
  for f in ways:
    ratios = [a / b for a, b in zip(ms[f], ms[ways[0]])]
    result["formulations"][f] = {
        "ops": trainers[f][2], "median_ms": round(_median(ms[f]), 2), "best_ms": round(min(ms[f]), 2),
        "ratio_median": round(_median(ratios), 3), "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3), "ms": [round(v, 2) for v in ms[f]],
        "max_kernel_difference": differences.get(f, (0.0, 0.0))[0],
        "max_gradient_difference": differences.get(f, (0.0, 0.0))[1]}
  return result


def _rows(r):
  for f, s in r["formulations"].items():
    reference = f == r["reference"]
    ratio = "" if reference else f"{s['ratio_median']:.3f}x ({s['ratio_min']:.3f}-{s['ratio_max']:.3f})"
    diff = "" if f == "per layer" else f"{s['max_kernel_difference']:.1e}, {s['max_gradient_difference']:.1e}"
    yield r["config"], f, str(s["ops"]), f"{s['median_ms']:.1f} ({s['best_ms']:.1f})", ratio, diff


def body(fv, args):
  del args
  unknown = sorted(set(fv.ways) - set(FORMULATIONS))
  if unknown or len(fv.ways) < 2:
    raise command.UsageError(f"--ways: two or more of {', '.join(FORMULATIONS)}; got {','.join(fv.ways)}")
  configs_threads.measure_and_report(
      fv, functools.partial(measure, ways=fv.ways),
      ["config", "spectral norm", "ops per step", "ms per step, median (best)",
       f"/ {fv.ways[0]}, median of rounds (range)", "largest difference: kernels, gradients"], _rows)


def main(argv=None) -> int:
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
