"""The training pitfalls of docs/paper.md, and the EMA generator's batch-norm statistics (docs/training.md).

Pitfalls: one D step per G step; the G step reusing the D step's samples; the G and D learning rates swapped;
Adam betas other than (0, 0.999). EMA: G_ema's batch-norm moving statistics are averaged like its weights,
its spectral-norm `u` copied from G, and samples come from G_ema in inference mode.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import data as data_lib
from dvd_gan import experiments
from dvd_gan.training import precision
from dvd_gan.training.loop import resolve_config
from dvd_gan.training.trainer import build_trainer



def test_two_d_updates_per_g_update(default_run):
  """After 4 G steps of the real loop the D optimiser made 8 updates and the G optimiser 4."""
  trainer = default_run["result"]["trainer"]
  assert int(trainer.g_opt.iterations.numpy()) == 4
  assert int(trainer.d_opt.iterations.numpy()) == 2 * int(trainer.g_opt.iterations.numpy())


def test_trained_optimisers_have_paper_hyperparameters(default_run):
  """The optimisers the loop built: Adam, G lr 1e-4, D lr 5e-4 (not swapped), beta1 = 0, beta2 = 0.999."""
  trainer = default_run["result"]["trainer"]
  for opt, lr in ((trainer.g_opt, 1e-4), (trainer.d_opt, 5e-4)):
    assert isinstance(opt, keras.optimizers.Adam)
    assert float(opt.learning_rate.numpy()) == pytest.approx(lr, rel=1e-6)
    assert opt.beta_1 == 0.0 and opt.beta_2 == 0.999


def _experiment_configs():
  for name in experiments.names():
    yield name + ".py", experiments.load(name)


def test_paper_configs_build_paper_optimisers():
  """Every paper config in experiments/ builds G and D optimisers with lr 1e-4 / 5e-4, betas (0, 0.999), 2 D
  steps per G step, EMA decay 0.9999 from step 20,000. The tiny demos (demo.py, tiny.py, tiny_fp.py) have their own
  short schedule: their optimisers must build, with beta1 = 0 as in the paper."""
  configs = list(_experiment_configs())
  assert len(configs) >= 5
  for name, c in configs:
    t = c.train
    g = precision.make_optimizer(t.g_lr, t.beta1, t.beta2, t.mixed_precision)
    d = precision.make_optimizer(t.d_lr, t.beta1, t.beta2, t.mixed_precision)
    if name in ("demo.py", "tiny.py", "tiny_fp.py"):
      assert getattr(g, "inner_optimizer", g).beta_1 == 0.0
      continue
    for opt, lr in ((g, 1e-4), (d, 5e-4)):
      inner = getattr(opt, "inner_optimizer", opt)
      assert float(keras.ops.convert_to_numpy(inner.learning_rate)) == pytest.approx(lr, rel=1e-6), name
      assert (inner.beta_1, inner.beta_2) == (0.0, 0.999), name
    assert t.d_steps_per_g_step == 2, name
    assert t.ema_decay == 0.9999 and t.ema_start_step == 20_000, name


@pytest.fixture(scope="module")
def fresh_trainer(tiny_config):
  """A newly built trainer of the tiny config (default strategy) and its real-data iterator."""
  config = resolve_config(tiny_config())
  trainer = build_trainer(config, tf.distribute.get_strategy())
  iterator = iter(data_lib.make_dataset(config, split="train", training=True))
  return trainer, iterator


class _RecordingGenerator:
  """Stands in for G: records the z of every call, then calls the real G."""

  def __init__(self, generator):
    self.generator, self.z = generator, []

  def __call__(self, z, y=None, training=None):
    self.z.append(np.array(z))
    return self.generator(z, y, training=training)


class _CountingIterator:
  def __init__(self, iterator):
    self.iterator, self.batches = iterator, []

  def __next__(self):
    batch = next(self.iterator)
    self.batches.append(np.array(batch["video"]))
    return batch


def test_each_update_draws_fresh_samples_and_data(fresh_trainer):
  """In one training step (run eagerly to observe it) G is called 3 times (2 D updates + 1 G update), each
  with a different z (the G update never reuses a D update's samples), and the 2 D updates read 2 different
  real batches."""
  trainer, iterator = fresh_trainer
  recorder, counting = _RecordingGenerator(trainer.G), _CountingIterator(iterator)
  trainer.G = recorder
  tf.config.run_functions_eagerly(True)
  try:
    trainer.train_step(counting)
  finally:
    tf.config.run_functions_eagerly(False)
    trainer.G = recorder.generator
  assert len(recorder.z) == 3 and len(counting.batches) == 2
  for i in range(3):
    for j in range(i + 1, 3):
      assert not np.allclose(recorder.z[i], recorder.z[j]), (i, j)
  assert not np.allclose(counting.batches[0], counting.batches[1])


def test_ema_batch_norm_statistics_and_weights(fresh_trainer):
  """EMA after the start step: G_ema's weights AND batch-norm moving statistics become
  decay * G_ema + (1 - decay) * G, spectral-norm u vectors are copied from G; before the start step every
  variable of G_ema is a copy of G's."""
  trainer, _ = fresh_trainer
  ema, G, G_ema = trainer.ema, trainer.G, trainer.G_ema
  rng = np.random.default_rng(0)
  for v in G.weights:  # make G and G_ema differ everywhere
    if "float" in str(v.dtype):
      v.assign(v.numpy() + rng.normal(size=v.shape).astype(np.float32))
  before = [e.numpy().copy() for e in G_ema.weights]
  ema.update(ema.start_step + 1)
  names = [v.path if hasattr(v, "path") else v.name for v in G.weights]
  assert any("moving_mean" in n for n in names) and any("moving_variance" in n for n in names)
  d = ema.decay
  for n, v, e, e0 in zip(names, G.weights, G_ema.weights, before):
    if v.trainable or "moving_" in n:
      np.testing.assert_allclose(e.numpy(), d * e0 + (1 - d) * v.numpy(), rtol=1e-6, atol=1e-6, err_msg=n)
    else:
      np.testing.assert_array_equal(e.numpy(), v.numpy(), err_msg=n)
  ema.update(ema.start_step - 1)
  for n, v, e in zip(names, G.weights, G_ema.weights):
    np.testing.assert_array_equal(e.numpy(), v.numpy(), err_msg=n)


def test_samples_come_from_g_ema_in_inference_mode(fresh_trainer):
  """trainer.sample(z, y) equals G_ema(z, y, training=False) and leaves every G_ema variable (moving statistics,
  u) unchanged: sampling never updates the EMA generator's state."""
  trainer, _ = fresh_trainer
  z = tf.random.stateless_normal([2, trainer.z_dim], [1, 2])
  y = tf.constant([0, 1], tf.int32)
  before = [e.numpy().copy() for e in trainer.G_ema.weights]
  videos = trainer.sample(z, y).numpy()
  for e, e0 in zip(trainer.G_ema.weights, before):
    np.testing.assert_array_equal(e.numpy(), e0)
  np.testing.assert_allclose(videos, trainer.G_ema(z, y, training=False).numpy(), rtol=1e-5, atol=1e-6)
  assert videos.shape == (2, 4, 16, 16, 3)
