"""DVD-GAN-FP's generator (dvd_gan/models/prediction_generator.py; docs/paper.md, DVD-GAN-FP): shapes of the paper's
FP configs at reduced width, dependence on the conditioning frames, no class input, gradient through the
initial state and the U-Net skips, serialization."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from dvd_gan.models.build import make_models
from dvd_gan.models.prediction_generator import FramePredictionGenerator, frames_to_channels
from tests.repo_files import experiment_config


def load_config(name):
  return experiment_config(name)


def tiny_fp(num_frames=3, context=2, resolution=16, unet_skips=True, **kwargs):
  """16x16, G 8/8/4 channels, conditioning network 2/4/8 (16 -> 8 -> 4 -> 4), z_dim 6."""
  kwargs.setdefault("multipliers", (2, 2, 1))
  return FramePredictionGenerator(
      num_frames=num_frames, resolution=resolution, num_conditioning_frames=context, ch=4,
      cond_ch=2, cond_multipliers=(1, 2, 4), z_dim=6, unet_skips=unet_skips, rnn_attention=False, **kwargs)


def frames(batch, context=2, resolution=16, seed=0):
  return tf.random.stateless_uniform([batch, context, resolution, resolution, 3], [seed, 3], -1.0, 1.0)


def latents(batch, seed=0):
  return tf.random.stateless_normal([batch, 6], [seed, 1])


@pytest.mark.parametrize("name,context,predicted", [("bair_fp", 1, 15), ("kinetics600_fp", 5, 11)])
def test_paper_fp_configs_at_reduced_width(name, context, predicted):
  """The BAIR (1 + 15) and Kinetics-600 (5 + 11) FP configs at 64x64, with every width divided (G ch 1,
  D / conditioning ch 1): G maps z and C conditioning frames to the T predicted frames [B, T, 64, 64, 3] in
  [-1, 1], and DS / DT score the C + T frames of [context; prediction] with one score per video; the
  skips reach G's first block at each of 4, 8, 16, 32."""
  c = load_config(name)
  assert (c.data.num_conditioning_frames, c.num_frames, c.resolution, c.data.stride) == (context, predicted, 64, 1)
  assert c.num_classes == 0 and c.model.g_ch * c.model.g_multipliers[0] == 512  # ch0 = 512 (appendix A.4)
  c.model.g_ch, c.model.d_ch, c.model.z_dim = 1, 1, 4
  g, ds, dt = make_models(c)  # built by their first (eager) calls: cheaper than tracing them first
  assert isinstance(g, FramePredictionGenerator) and g.num_classes == 0
  assert sorted(g.skip_resolutions().values()) == [4, 8, 16, 32]
  ctx = tf.random.stateless_uniform([1, context, 64, 64, 3], [1, 2], -1.0, 1.0)
  video = g(tf.random.stateless_normal([1, 4], [1, 3]), ctx, training=False)
  assert video.shape == (1, predicted, 64, 64, 3) and np.all(np.abs(video.numpy()) <= 1.0)
  full = tf.concat([ctx, video], axis=1)
  assert ds(full, None, training=False).shape == (1,) and dt(full, None, training=False).shape == (1,)


def test_changing_the_conditioning_frames_changes_the_prediction_and_the_initial_state():
  """Same z, other conditioning frames: another ConvGRU initial state and other predicted frames; same z and
  frames: the same prediction (inference mode is deterministic)."""
  g = tiny_fp()
  z, a, b = latents(2), frames(2, seed=1), frames(2, seed=2)
  state_a, _ = g.conditioning_features(a, training=False)
  state_b, _ = g.conditioning_features(b, training=False)
  assert state_a.shape == (2, 4, 4, g.ch0)
  assert np.max(np.abs(state_a.numpy() - state_b.numpy())) > 1e-4
  pa, pb = g(z, a, training=False).numpy(), g(z, b, training=False).numpy()
  assert np.max(np.abs(pa - pb)) > 1e-4
  np.testing.assert_array_equal(pa, g(z, a, training=False).numpy())
  # Per video: changing video 1's frames leaves video 0's prediction alone (inference-mode batch norm).
  mixed = tf.concat([a[:1], b[1:]], axis=0)
  np.testing.assert_allclose(g(z, mixed, training=False).numpy()[0], pa[0], atol=1e-5)


def test_no_class_input_is_accepted():
  """DVD-GAN-FP has no class input: the constructor refuses classes, G has no embedding and its batch norms
  see z alone, `call` has no y, and a config with classes and conditioning frames is a one-line error."""
  with pytest.raises(ValueError, match="no class input"):
    tiny_fp(num_classes=3)
  g = tiny_fp()
  assert g.embed is None and g.num_classes == 0
  assert g.conditioning(latents(2)).shape == (2, 6)  # cond = z
  with pytest.raises(TypeError):
    g(latents(2), frames(2), y=tf.constant([0, 1]))
  with pytest.raises(ValueError, match="conditioning frames"):
    g(latents(2), None)
  c = load_config("kinetics600_fp")
  c.num_classes = 600
  with pytest.raises(ValueError, match="no class input") as e:
    make_models(c)
  assert "\n" not in str(e.value)
  c.num_classes = 0
  c.model.g_ch, c.model.d_ch = 1, 1
  _, ds, dt = make_models(c)
  assert ds.num_classes == 0 and dt.num_classes == 0  # no projection


def test_initial_state_and_skips_carry_gradient_into_the_conditioning_network():
  """The loss of G's prediction has a non-zero gradient with respect to the ConvGRU's initial state and to
  every paired skip feature map, and for every variable of the conditioning network and of the skip convs.
  Without skips the initial state alone still carries gradient to the frames."""
  g = tiny_fp()
  z, ctx = latents(2), frames(2)
  weights = tf.random.stateless_normal([2, 3, 16, 16, 3], [5, 5])
  state, features = g.conditioning_features(ctx, training=True)
  with tf.GradientTape() as tape:
    tape.watch([state] + list(features))
    loss = tf.reduce_sum(g.predict_from_features(z, state, features, training=True) * weights)
  grads = tape.gradient(loss, [state] + list(features))
  assert float(tf.reduce_max(tf.abs(grads[0]))) > 0, "no gradient through the initial state"
  paired = {j for j, _ in g.skip_pairs.values()}
  assert paired == {0, 2}  # 8x8 (block 0) and the deepest 4x4 (block 2)
  for j, grad in enumerate(grads[1:]):
    if j in paired:
      assert grad is not None and float(tf.reduce_max(tf.abs(grad))) > 0, f"no gradient through skip {j}"
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(g(z, ctx, training=True) * weights)
  variables = g.conditioning_network.trainable_variables + [v for c in g.skip_convs for v in c.trainable_variables]
  for v, grad in zip(variables, tape.gradient(loss, variables)):
    assert grad is not None and float(tf.reduce_max(tf.abs(grad))) > 0, v.path
  no_skips = tiny_fp(unet_skips=False)
  assert not no_skips.skip_convs
  with tf.GradientTape() as tape:
    tape.watch(ctx)
    loss = tf.reduce_sum(no_skips(z, ctx, training=True) * weights)
  assert float(tf.reduce_max(tf.abs(tape.gradient(loss, ctx)))) > 0


def test_skips_pair_by_resolution_with_the_deepest_conditioning_output():
  """G's first block whose input is r x r gets the conditioning network's last output at r; the channels of
  each skip conv are those of the block input; the C frames' features are concatenated on channels."""
  g = tiny_fp(context=3)
  assert g.conditioning_network.resolutions() == [8, 4, 4]
  assert g.block_inputs() == [(4, 8), (4, 8), (8, 8), (8, 8)]
  assert g.skip_resolutions() == {0: 4, 2: 8}
  assert g.skip_pairs == {0: (2, 8), 2: (0, 8)}
  _, features = g.conditioning_features(frames(1, context=3), training=False)
  assert [f.shape[-1] for f in features] == [3 * 2, 3 * 4, 3 * 8] == g.conditioning_network.feature_channels()


def test_frames_to_channels_is_frame_major():
  """[B*C, r, r, F] -> [B, r, r, C*F] with channel c * F + f = channel f of frame c of the same video."""
  x = np.arange(2 * 3 * 1 * 1 * 4, dtype=np.float32).reshape(6, 1, 1, 4)
  y = frames_to_channels(tf.constant(x), 2, 3).numpy()
  np.testing.assert_array_equal(y[1, 0, 0], np.concatenate([x[3, 0, 0], x[4, 0, 0], x[5, 0, 0]]))


def test_keras_file_round_trip(tmp_path):
  """get_config/from_config rebuilds the same architecture and a .keras file loads with its weights (the
  variables are created by tracing a (z, context) call before the weights are read)."""
  g = tiny_fp()
  z, ctx = latents(2), frames(2)
  expected = g(z, ctx, training=False).numpy()
  assert FramePredictionGenerator.from_config(g.get_config()).get_config() == g.get_config()
  path = str(tmp_path / "g.keras")
  g.save(path)
  loaded = keras.models.load_model(path)
  assert isinstance(loaded, FramePredictionGenerator)
  np.testing.assert_allclose(loaded(z, ctx, training=False).numpy(), expected, atol=1e-5)


def test_build_from_shapes_creates_the_variables_of_a_traced_call(traced_and_shape_built):
  """`build_from_shapes` (the full-size parameter counts) creates exactly the variables (paths, shapes,
  trainability) of a traced (z, context) call for the tiny FP config: conditioning network, skip convs, and
  DS / DT built for C + T frames."""
  traced_and_shape_built(load_config("tiny_fp"))
