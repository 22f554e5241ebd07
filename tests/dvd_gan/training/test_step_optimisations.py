"""Every speed/memory option of the training step leaves its results equal (within float tolerance).

Options: `train.fused_adam` (one fused kernel per variable update), `model.remat` (residual blocks recomputed
in the backward pass); the D step's one call of each discriminator on [real; fake], always on, against two
calls; and the layers' fast evaluation, always on, against the equations as written
(`_reference_layers`: the ConvGRU's three gate convolutions of concatenations at every step, batch norm as
x_hat, then the affine). Two trainers start from the same weights, seed-generator state and real batches; one
runs with every optimisation off (Keras's Adam), the other with the option under test. After one training step
(a D step and a G step) every variable must agree: G, DS, DT and G_ema weights including the spectral-norm
vectors `u` and the batch-norm moving statistics, and the optimisers' moments and step counters.

Every spectrally normalised weight starts from a Gaussian draw (`_gaussian_kernels`), not the orthogonal
initialisation, of which every u is a fixed point: so a skipped or doubled power iteration changes u.

Tolerance: the spectral-norm vectors and the moving statistics within 1e-4 relative; weights and optimiser
slots within 1e-4 relative on 99% of their entries (the rest, weights whose exact gradient is 0, see
`_assert_equal_states`). A wrong update (a missing bias correction, a skipped or doubled u or moving-statistic
update, wrong gradients from a recomputation) fails.

`train.d_sn_iterations`, which changes the step, is checked the same way against its definition: the step with
two iterations equals the step with one run after every D u was refined by one power iteration.
"""
import contextlib
import warnings

import numpy as np
import pytest
import tensorflow as tf

from tensorflow.python.framework import config as tf_config

from dvd_gan import data as data_lib
from dvd_gan.layers import batch_norm as batch_norm_lib
from dvd_gan.layers import conv_gru as conv_gru_lib
from dvd_gan.layers import spectral_norm
from dvd_gan.training import trainer as trainer_lib
from dvd_gan.training.loop import resolve_config
from dvd_gan.training.trainer import build_trainer
from tests.repo_files import load_module

BASELINE = {"train.fused_adam": False, "model.remat": False}


def _state(trainer):
  out = {}
  for name, m in (("G", trainer.G), ("DS", trainer.DS), ("DT", trainer.DT), ("G_ema", trainer.G_ema)):
    for v in m.weights:
      out[f"{name}/{v.path}"] = v.numpy().copy()
  for name, opt in (("g_opt", trainer.g_opt), ("d_opt", trainer.d_opt)):
    for i, v in enumerate(opt.variables):
      out[f"{name}/{i}"] = np.asarray(v).copy()  # (paths carry the optimiser's unique name)
  return out


def _run_steps(config, overrides, strategy, batches, init=None):
  """(state after len(batches) D steps' worth of steps, last metrics, initial weights as numpy)."""
  c = config.copy_and_resolve_references()
  for key, v in overrides.items():  # "train.fused_adam", "model.remat", ...
    section, name = key.split(".")
    c[section][name] = v
  trainer = build_trainer(c, strategy)
  models = (trainer.G, trainer.DS, trainer.DT, trainer.G_ema)
  if init is not None:
    for m, values in zip(models, init):
      for var, value in zip(m.weights, values):
        var.assign(value)
  else:
    _gaussian_kernels(trainer)
  init = [[v.numpy().copy() for v in m.weights] for m in models]
  trainer.rng.reset(tf.random.Generator.from_seed(7).state)
  ds = tf.data.Dataset.from_tensor_slices({k: tf.stack([b[k] for b in batches]) for k in batches[0]})
  iterator = iter(strategy.experimental_distribute_dataset(ds))
  metrics = [trainer.train_step(iterator) for _ in range(len(batches) // trainer.d_steps)]
  return _state(trainer), {k: float(v) for k, v in metrics[-1].items()}, init


def _gaussian_kernels(trainer):
  """Replaces every spectrally normalised weight of G, DS and DT by a Gaussian draw (G_ema copies G's): with
  the orthogonal initialisation every u is a fixed point of the power iteration, and a skipped or doubled u
  update would go unnoticed."""
  rng = np.random.default_rng(3)
  for m in (trainer.G, trainer.DS, trainer.DT):
    by_path = {v.path: v for v in m.weights}
    for path in by_path:
      if path.endswith("/u"):
        for name in ("kernel", "embeddings"):
          w = by_path.get(path[:-1] + name)
          if w is not None:
            w.assign(rng.normal(0.0, 0.1, w.shape).astype("float32"))
  trainer.ema.copy()


def _is_state(key):
  """Spectral-norm u and batch-norm moving statistics: what rematerialisation could update twice."""
  return key.endswith("/u") or "moving_" in key


def _assert_equal_states(want, got):
  assert want.keys() == got.keys()
  state = [k for k in want if _is_state(k)]
  assert len(state) > 10  # the spectral-norm and batch-norm state really is compared
  for key in state:
    np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-6, err_msg=key)
  # Weights and optimiser slots: tight on 99% of the entries, and every entry within 3e-4 (3 x G's lr).
  # The few looser entries are weights whose exact gradient is 0 (a conv bias followed by batch norm): their
  # gradient is rounding noise (~1e-10) that differs between two graphs, and Adam's first step scales it to
  # up to lr. A wrong update (a missing bias correction, wrong gradients) moves nearly every entry by ~lr.
  for prefix in ("G/", "DS/", "DT/", "G_ema/", "g_opt/", "d_opt/"):
    keys = [k for k in want if k.startswith(prefix) and not _is_state(k)]
    a = np.concatenate([np.ravel(want[k]) for k in keys]).astype("float64")
    b = np.concatenate([np.ravel(got[k]) for k in keys]).astype("float64")
    loose = np.abs(b - a) > 1e-6 + 1e-4 * np.abs(a)
    assert loose.mean() <= 0.01, (prefix, int(loose.sum()), a.size)
    if not prefix.endswith("opt/"):
      worst = int(np.argmax(np.abs(b - a)))
      assert np.abs(b - a).max() <= 3e-4, (prefix, a[worst], b[worst])


@pytest.fixture(scope="module")
def baseline(tiny_config):
  """(config, real batches, state after one step with every option off, its metrics, initial weights)."""
  config = resolve_config(tiny_config(d_steps_per_g_step=1))
  batches = list(data_lib.make_dataset(config, split="train", training=True).take(1))
  was_deterministic = tf_config.is_op_determinism_enabled()
  tf.config.experimental.enable_op_determinism()  # bit-reproducible kernels: fewer sources of rounding noise
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    state, metrics, init = _run_steps(config, BASELINE, tf.distribute.get_strategy(), batches)
  assert not [w for w in caught if "Gradients do not exist" in str(w.message)]  # every variable gets a gradient
  yield config, batches, state, metrics, init
  if not was_deterministic:
    tf_config.disable_op_determinism()


def _assert_equal_metrics(want, got):
  for k in want:
    assert abs(want[k] - got[k]) <= 1e-4 * (1 + abs(want[k])), k


def _check(baseline, option, layers=contextlib.nullcontext):
  config, batches, want, m_want, init = baseline
  with layers():
    got, m_got, _ = _run_steps(config, {**BASELINE, **option}, tf.distribute.get_strategy(), batches, init=init)
  _assert_equal_states(want, got)
  _assert_equal_metrics(m_want, m_got)


@pytest.mark.slow
def test_fused_adam_keeps_every_variable_equal(baseline):
  _check(baseline, {"train.fused_adam": True})


@pytest.mark.slow
def test_remat_keeps_every_variable_equal(baseline):
  """Recomputed residual blocks of G, DS and DT: same gradients, and u / moving statistics updated once."""
  _check(baseline, {"model.remat": True})


def _reference_conv_gru_call(self, inputs, initial_state=None, training=None):
  """The ConvGRU as docs/paper.md writes it: per step, W_r and W_u on [h; x_t], W_c on [x_t; r . h]."""
  shape = tf.shape(inputs)
  h = (tf.zeros([shape[0], shape[2], shape[3], self.filters], inputs.dtype) if initial_state is None
       else tf.cast(initial_state, inputs.dtype))
  k_r, k_u, k_c = (conv.spectral_kernel(training) for conv in (self.conv_r, self.conv_u, self.conv_c))
  outputs = []
  for t in range(inputs.shape[1]):
    x_t = inputs[:, t]
    h_x = tf.concat([h, x_t], axis=-1)
    r = tf.sigmoid(self.conv_r.apply_kernel(h_x, k_r))
    u = tf.sigmoid(self.conv_u.apply_kernel(h_x, k_u))
    c = self._candidate_activation(self.conv_c.apply_kernel(tf.concat([x_t, r * h], axis=-1), k_c))
    h = u * h + (1.0 - u) * c
    outputs.append(h)
  return tf.stack(outputs, axis=1)


def _reference_normalize_affine(self, x, scale, offset, training=None):
  """Batch norm as written: x_hat = (x - mean) / sqrt(var + eps), then x_hat * scale + offset."""
  mean, variance = self.statistics(x, training=training)
  if self._rank == 5:
    mean, variance = mean[None, :, None, None], variance[None, :, None, None]
  x_hat = (tf.cast(x, tf.float32) - mean) * tf.math.rsqrt(variance + self.epsilon)
  if scale.shape.rank == 2:  # one affine per video (frame): [B, C] -> [B, 1, 1, (1,) C]
    per_item = [-1] + [1] * (x.shape.rank - 2) + [scale.shape[-1]]
    scale, offset = tf.reshape(scale, per_item), tf.reshape(offset, per_item)
  return x_hat * scale + offset


@contextlib.contextmanager
def _reference_layers():
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(conv_gru_lib._ConvGRUBase, "call", _reference_conv_gru_call)
    patch.setattr(batch_norm_lib._PerStepBatchNorm, "normalize_affine", _reference_normalize_affine)
    yield


@pytest.mark.slow
def test_fast_layers_keep_every_variable_equal(baseline):
  """The step with the fast ConvGRU and batch norm (the baseline) equals the step with the layers as written:
  every weight, u, moving statistic, optimiser slot and metric."""
  _check(baseline, {}, layers=_reference_layers)


def _two_discriminator_calls():
  """The D step's scores from two calls of DS and of DT, fakes then reals, reading the same u: the fakes' call does
  not update it, the reals' makes the power iteration (benchmarks/d_one_call.py's reference side, which this
  test thereby checks too)."""
  module = load_module("benchmarks/d_one_call.py")
  return module.installed(module.SIDES[0], fake_updates_u=False)


@pytest.mark.slow
def test_one_discriminator_call_on_real_and_fake_keeps_every_variable_equal(baseline):
  """The D step's single call of DS and of DT on [real; fake] (the baseline) equals two calls with the same u
  and one u update: every weight, u (a second power iteration, or none, would move it), optimiser slot and
  metric. (The tiny config's DT pools, phi = avgpool2: no crops, so the two calls' seeds do not matter.)"""
  assert baseline[0].model.dt_phi == "avgpool2"
  _check(baseline, {}, layers=_two_discriminator_calls)


@contextlib.contextmanager
def _per_layer_spectral_norms():
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(trainer_lib.Trainer, "_spectral_norms", lambda self, layers, iterations=1: contextlib.nullcontext())
    yield


@pytest.mark.slow
def test_batched_spectral_norms_keep_every_variable_equal(baseline):
  """The step's batched power iterations (the baseline: spectral_norm.batched over G, and over DS and DT together)
  equal each layer running its own: every weight, u, optimiser slot and metric."""
  _check(baseline, {}, layers=_per_layer_spectral_norms)


@contextlib.contextmanager
def _d_u_refined_before_each_d_update():
  """Before each D update, every spectral norm of DS and DT refines its u by one power iteration of its own,
  outside the update (no gradient, nothing batched)."""
  d_step = trainer_lib.Trainer.d_step

  def refined_d_step(self, batch, seed):
    for layer in self._d_sn:
      w = tf.convert_to_tensor(layer._sn_weight.value)
      layer.u.assign(spectral_norm.power_iteration(tf.reshape(w, [-1, w.shape[-1]]), layer.u.value)[1])
    return d_step(self, batch, seed)

  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(trainer_lib.Trainer, "d_step", refined_d_step)
    yield


@pytest.mark.slow
@pytest.mark.parametrize("remat", [False, True], ids=["batched", "remat"])
def test_two_d_power_iterations_equal_one_after_refining_u(baseline, remat):
  """`train.d_sn_iterations = 2`: each D update's spectral norms make one power iteration that only refines u, then
  the one of the step as written. So the step equals the baseline step (1 iteration) run after every D u was
  refined by one iteration of its own: every weight, u, optimiser slot and metric; and it is not the baseline
  step itself (D's u and weights move). With `model.remat` the layers iterate one by one and the backward pass's
  recomputation must make the forward pass's two iterations, outside the scope that set them."""
  config, batches, want, _, init = baseline
  with _d_u_refined_before_each_d_update():
    ref, m_ref, _ = _run_steps(config, BASELINE, tf.distribute.get_strategy(), batches, init=init)
  got, m_got, _ = _run_steps(config, {**BASELINE, "train.d_sn_iterations": 2, "model.remat": remat},
                             tf.distribute.get_strategy(), batches, init=init)
  _assert_equal_states(ref, got)
  _assert_equal_metrics(m_ref, m_got)
  d_u = [k for k in want if k.startswith(("DS/", "DT/")) and k.endswith("/u")]
  assert d_u and max(np.abs(got[k] - want[k]).max() for k in d_u) > 1e-3


def test_d_power_iterations_below_one_are_refused(baseline):
  config = baseline[0].copy_and_resolve_references()
  config.train.d_sn_iterations = 0
  with pytest.raises(ValueError, match=r"train.d_sn_iterations must be >= 1, got 0"):
    build_trainer(config, tf.distribute.get_strategy())


@contextlib.contextmanager
def _g_tape_watching_every_variable():
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(trainer_lib.Trainer, "_g_tape", lambda self: tf.GradientTape())
    yield


@pytest.mark.slow
def test_g_tape_on_g_variables_only_keeps_every_variable_equal(baseline):
  """The G step's tape watching G's variables only (the baseline) equals a tape watching every variable read:
  every weight, u, optimiser slot and metric. (A G variable left unwatched gets no gradient: the baseline fixture
  fails on Keras's warning, which catches a variable too small for the 1 % allowance of `_assert_equal_states`.)"""
  _check(baseline, {}, layers=_g_tape_watching_every_variable)
