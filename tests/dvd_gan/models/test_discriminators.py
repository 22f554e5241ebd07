"""SpatialDiscriminator DS and TemporalDiscriminator DT (docs/paper.md, section 3.1): shapes, gradients, frame
sampling, phi, projection conditioning, and the DS pitfalls of docs/paper.md (tiny widths)."""
import inspect

import numpy as np
import pytest
import tensorflow as tf

from dvd_gan import layers as L
from dvd_gan.losses import d_hinge_loss
from dvd_gan.models.config import model_config
from dvd_gan.models.discriminators import (SpatialDiscriminator, TemporalDiscriminator, apply_phi,
                                           sample_frame_indices)


def video(b, t, h, w=None, seed=0):
  return tf.random.stateless_uniform([b, t, h, w or h, 3], seed=[seed, 7], minval=-1.0, maxval=1.0)


def labels(b, num_classes):
  return tf.constant(np.arange(b) % num_classes, tf.int32) if num_classes else None


def tiny_ds(num_classes=3, k=2, multipliers=(1, 2), **kwargs):
  return SpatialDiscriminator(num_classes=num_classes, ch=4, multipliers=multipliers, k=k, **kwargs)


def tiny_dt(num_classes=3, phi="avgpool2", multipliers=(1, 2, 2), **kwargs):
  return TemporalDiscriminator(num_classes=num_classes, ch=4, multipliers=multipliers, phi=phi, **kwargs)


@pytest.mark.parametrize("t,h,w,k", [(1, 8, 8, 1), (4, 8, 16, 2), (6, 16, 8, 8)])
def test_ds_output_shape(t, h, w, k):
  """DS gives one float32 score per video, `[B]`, for several T, H, W and k (k >= T included), in training
  and inference mode, conditional and unconditional."""
  for classes in (0, 3):
    ds = tiny_ds(classes, k=k)
    for training in (True, False):
      s = ds(video(3, t, h, w), labels(3, classes), training=training)
      assert s.shape == (3,) and s.dtype == tf.float32
      assert np.all(np.isfinite(s.numpy()))


@pytest.mark.parametrize("t,h,w,phi", [(2, 8, 8, "avgpool2"), (3, 16, 8, "avgpool4"),
                                       (4, 8, 16, "identity"), (5, 16, 16, "random_crop_half")])
def test_dt_output_shape(t, h, w, phi):
  """DT gives one float32 score per video, `[B]`, for several T, H, W and every phi, in both modes."""
  for classes in (0, 3):
    dt = tiny_dt(classes, phi=phi, multipliers=(1, 2))
    for training in (True, False):
      s = dt(video(2, t, h, w), labels(2, classes), training=training)
      assert s.shape == (2,) and s.dtype == tf.float32
      assert np.all(np.isfinite(s.numpy()))


def _set_attention_gains(model):
  for w in model.trainable_weights:
    if w.path.endswith("gamma") and len(w.shape) == 0:
      w.assign(0.5)


@pytest.mark.parametrize("which", ["DS", "DT"])
def test_gradients_reach_every_trainable_weight(which):
  """A loss on the scores has a nonzero gradient for every trainable variable of DS / DT (conditional,
  with a per-frame attention block whose zero-initialised gain is first set nonzero). The attention sees at
  least 2x2 positions (DS: 16 -> 8 -> 4x4 after block 1; DT: 32 -> phi 16 -> 8 -> 4 -> 2x2 after block 2): over
  one position its softmax is exactly 1 and theta / phi could get no gradient."""
  if which == "DS":
    d = tiny_ds(3, k=2, multipliers=(1, 2, 2), attention_blocks=(1,))
    v = video(3, 4, 16)
  else:
    d = tiny_dt(3, multipliers=(1, 2, 2, 2), attention_blocks=(2,))
    v = video(3, 4, 32)
  y = labels(3, 3)
  d(v, y, training=True)
  _set_attention_gains(d)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(d(v, y, training=True, seed=tf.constant([1, 2])) * tf.constant([1.0, -2.0, 0.5]))
  grads = tape.gradient(loss, d.trainable_weights)
  assert len(d.trainable_weights) > 10
  missing = [w.path for w, g in zip(d.trainable_weights, grads) if g is None or not np.any(g.numpy() != 0)]
  assert not missing, missing


def test_ds_frame_indices_differ_between_videos_and_have_no_repeats():
  """Pitfall: one set of frame indices shared by the whole batch. Each video draws its own k frames: the
  index rows of a batch differ, every row has k distinct sorted indices in [0, T), and DS really scores the
  gathered frames (a video whose frame t is filled with value t comes back with its indices as values)."""
  idx = sample_frame_indices(32, 12, 4, seed=tf.constant([3, 4])).numpy()
  assert idx.shape == (32, 4) and idx.dtype == np.int32
  assert np.all((idx >= 0) & (idx < 12))
  assert all(len(set(row)) == 4 for row in idx)
  assert np.all(np.diff(idx, axis=1) > 0)
  assert len({tuple(row) for row in idx}) > 20
  ds = tiny_ds(0, k=3)
  marked = tf.tile(tf.reshape(tf.range(6, dtype=tf.float32), [1, 6, 1, 1, 1]), [8, 1, 2, 2, 3])
  frames, idx = ds.sample_frames(marked, seed=tf.constant([5, 6]))
  np.testing.assert_array_equal(frames.numpy()[:, :, 0, 0, 0], idx.numpy().astype("float32"))
  assert len({tuple(row) for row in idx.numpy()}) > 1
  # Without a seed, the layer's own generator also draws per video and moves on between calls.
  a, b = ds.sample_frames(marked)[1].numpy(), ds.sample_frames(marked)[1].numpy()
  assert len({tuple(row) for row in a}) > 1 and not np.array_equal(a, b)


def test_ds_frame_sampling_is_uniform_without_replacement():
  """Every frame is drawn with probability k / T: over 4000 videos (T = 6, k = 2) each frame's frequency is
  within 5 standard deviations of k / T, and every one of the C(6, 2) = 15 pairs occurs with frequency
  1 / 15 within 5 standard deviations (a biased or with-replacement sampler fails)."""
  n, t, k = 4000, 6, 2
  idx = sample_frame_indices(n, t, k, seed=tf.constant([11, 12])).numpy()
  freq = np.bincount(idx.ravel(), minlength=t) / n
  p = k / t
  np.testing.assert_allclose(freq, p, atol=5 * np.sqrt(p * (1 - p) / n))
  pair_counts = np.bincount(idx[:, 0] * t + idx[:, 1], minlength=t * t).reshape(t, t)
  pairs = pair_counts[np.triu_indices(t, 1)] / n
  np.testing.assert_allclose(pairs, 1 / 15, atol=5 * np.sqrt((1 / 15) * (14 / 15) / n))
  assert pair_counts[np.tril_indices(t)].sum() == 0


def test_ds_seed_makes_sampling_deterministic():
  """With an explicit seed the draw is a pure function of it (the training loop's determinism), and a
  different seed gives a different draw."""
  a = sample_frame_indices(16, 8, 3, seed=tf.constant([1, 2])).numpy()
  b = sample_frame_indices(16, 8, 3, seed=tf.constant([1, 2])).numpy()
  c = sample_frame_indices(16, 8, 3, seed=tf.constant([1, 3])).numpy()
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)


@pytest.mark.parametrize("k", [4, 9])
def test_ds_with_k_at_least_t_is_sum_of_all_frame_scores(k):
  """With k = T (or k > T) DS's score of a video is the sum of the per-frame scores of ALL its frames,
  each frame scored alone (inference mode, so nothing stateful changes)."""
  ds = tiny_ds(3, k=k)
  v, y = video(2, 4, 8), labels(2, 3)
  s = ds(v, y, training=False).numpy()
  frames = tf.reshape(v, [8, 8, 8, 3])
  per_frame = ds.frame_scores(frames, tf.repeat(y, 4), training=False).numpy().reshape(2, 4)
  np.testing.assert_allclose(s, per_frame.sum(axis=1), rtol=1e-5, atol=1e-5)


def test_ds_with_k_below_t_is_sum_over_the_sampled_frames():
  """With k < T DS's score is the sum of the per-frame scores of exactly the k sampled frames of each
  video (same seed -> same indices)."""
  ds = tiny_ds(3, k=2)
  v, y, seed = video(3, 5, 8), labels(3, 3), tf.constant([8, 9])
  s = ds(v, y, training=False, seed=seed).numpy()
  _, idx = ds.sample_frames(v, seed=seed)
  all_scores = ds.frame_scores(tf.reshape(v, [15, 8, 8, 3]), tf.repeat(y, 5), training=False)
  all_scores = all_scores.numpy().reshape(3, 5)
  expected = np.take_along_axis(all_scores, idx.numpy(), axis=1).sum(axis=1)
  np.testing.assert_allclose(s, expected, rtol=1e-5, atol=1e-5)


def test_hinge_is_applied_to_the_per_video_sum_not_per_frame():
  """Pitfall: the hinge applied to every frame score of DS. DS returns one summed score per video (rank 1)
  equal to the sum of its frame scores, the loss rejects per-frame scores `[B, k]`, and the D loss on DS's
  output is the hinge of the per-video sums: on videos of 3 identical frames whose frame score is set to 0.8
  (inside the margin; the sum 2.4 is past it) it is 0, where a per-frame hinge would give 0.4."""
  ds = tiny_ds(3, k=3)
  v, y = video(4, 3, 8), labels(4, 3)
  scores = ds(v, y, training=False)
  assert scores.shape == (4,)
  per_frame = ds.frame_scores(tf.reshape(v, [12, 8, 8, 3]), tf.repeat(y, 3), training=False)
  np.testing.assert_allclose(scores.numpy(), per_frame.numpy().reshape(4, 3).sum(axis=1), rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="one score per video"):
    d_hinge_loss(tf.constant(per_frame.numpy().reshape(4, 3)), tf.constant(per_frame.numpy().reshape(4, 3)))

  still = tf.repeat(tf.repeat(tf.constant(v[:1, :1]), 3, axis=1), 4, axis=0)      # [4, 3, 8, 8, 3]
  y0 = tf.fill([4], y[0])
  f0 = float(ds.frame_scores(still[0, :1], y0[:1], training=False)[0])
  ds.head.linear.bias.assign(ds.head.linear.bias + (0.8 - f0))
  scores = ds(still, y0, training=False)
  np.testing.assert_allclose(scores.numpy(), 2.4, atol=1e-4)
  hinge = lambda real, fake: np.mean(np.maximum(0, 1 - real)) + np.mean(np.maximum(0, 1 + fake))
  np.testing.assert_allclose(float(d_hinge_loss(scores, -scores)), 0.0, atol=1e-6)
  frames = ds.frame_scores(tf.reshape(still, [12, 8, 8, 3]), tf.repeat(y0, 3), training=False).numpy()
  np.testing.assert_allclose(hinge(frames, -frames), 0.4, atol=1e-4)


def test_dt_phi_default_gives_half_resolution_and_all_frames():
  """DT's default phi is 2x2 average pooling: its input is T x H/2 x W/2, each pixel the mean of a 2x2
  block (numpy reference); the default config agrees."""
  dt = tiny_dt(0)
  assert dt.phi == "avgpool2" and model_config().dt_phi == "avgpool2"
  assert inspect.signature(TemporalDiscriminator).parameters["phi"].default == "avgpool2"
  v = video(2, 5, 8, 12)
  out = dt.preprocess(v).numpy()
  assert out.shape == (2, 5, 4, 6, 3)
  ref = v.numpy().reshape(2, 5, 4, 2, 6, 2, 3).mean(axis=(3, 5))
  np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("phi, f", [("avgpool2", 2), ("avgpool4", 4)])
def test_dt_phi_avgpool_gradient_spreads_each_output_gradient_evenly_over_its_block(phi, f):
  """The gradient of the average-pooling phi w.r.t. the video: each pixel gets 1/f^2 of the gradient of the
  output pixel whose f x f block holds it (numpy reference), frames and channels apart."""
  v = video(2, 3, 8, 8)
  weights = tf.random.stateless_normal([2, 3, 8 // f, 8 // f, 3], seed=[4, 5])
  with tf.GradientTape() as tape:
    tape.watch(v)
    loss = tf.reduce_sum(apply_phi(v, phi) * weights)
  grad = tape.gradient(loss, v).numpy()
  ref = np.repeat(np.repeat(weights.numpy(), f, axis=2), f, axis=3) / f ** 2
  np.testing.assert_allclose(grad, ref, rtol=1e-6, atol=1e-7)


def test_dt_phi_choices():
  """phi: avgpool4 -> T x H/4 x W/4 (4x4 block means), identity -> the video unchanged, random_crop_half ->
  a T x H/2 x W/2 window of the video at a per-video offset (same window for all frames of a video; the
  offsets vary over the batch and cover the range)."""
  v = video(64, 3, 8)
  vn = v.numpy()
  a4 = apply_phi(v, "avgpool4").numpy()
  np.testing.assert_allclose(a4, vn.reshape(64, 3, 2, 4, 2, 4, 3).mean(axis=(3, 5)), rtol=1e-6, atol=1e-6)
  np.testing.assert_array_equal(apply_phi(v, "identity").numpy(), vn)
  crop = apply_phi(v, "random_crop_half", seed=tf.constant([2, 3])).numpy()
  assert crop.shape == (64, 3, 4, 4, 3)
  offsets = []
  for b in range(64):
    found = [(i, j) for i in range(5) for j in range(5) if np.array_equal(vn[b, :, i:i + 4, j:j + 4], crop[b])]
    assert len(found) == 1, b
    offsets.append(found[0])
  assert len(set(offsets)) > 10
  assert {o[0] for o in offsets} == set(range(5)) and {o[1] for o in offsets} == set(range(5))
  dt = tiny_dt(0, phi="random_crop_half")
  assert dt.preprocess(v, seed=tf.constant([1, 1])).shape == (64, 3, 4, 4, 3)
  with pytest.raises(ValueError, match="dt_phi"):
    tiny_dt(0, phi="avgpool3")


def test_projection_conditioning_changes_the_score_with_y():
  """Both discriminators are class-conditional by projection: the same video scored with another label
  gets another score, and the difference is exactly <e(y1) - e(y2), h> (the linear part cancels)."""
  v = video(2, 4, 8)
  for d in (tiny_ds(5, k=4), tiny_dt(5, multipliers=(1, 2))):
    s1 = d(v, tf.constant([0, 1]), training=False).numpy()
    s2 = d(v, tf.constant([3, 1]), training=False).numpy()
    assert abs(s1[0] - s2[0]) > 1e-4
    np.testing.assert_allclose(s1[1], s2[1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="pass y"):
      d(v, None, training=False)
  ds = tiny_ds(5, k=4)
  ds(v, tf.constant([0, 1]), training=False)
  h = ds.frame_features(tf.reshape(v, [8, 8, 8, 3]), training=False).numpy().reshape(2, 4, -1).sum(1)
  e = ds.head.embed.spectral_kernel(False).numpy()
  s1 = ds(v, tf.constant([0, 1]), training=False).numpy()
  s2 = ds(v, tf.constant([3, 1]), training=False).numpy()
  np.testing.assert_allclose(s1[0] - s2[0], np.dot(e[0] - e[3], h[0]), rtol=1e-4, atol=1e-4)


def test_unconditional_discriminators_take_no_labels():
  """num_classes = 0: no projection embedding is created, y = None works, and y is ignored."""
  v = video(2, 3, 8)
  for d in (tiny_ds(0, k=2), tiny_dt(0, multipliers=(1, 2))):
    s = d(v, None, training=False, seed=tf.constant([1, 1])).numpy()
    assert s.shape == (2,)
    assert d.head.embed is None
    assert not any("projection_embedding" in w.path for w in d.weights)
    np.testing.assert_array_equal(d(v, tf.constant([4, 4]), training=False, seed=tf.constant([1, 1])), s)


def test_dt_time_downsampling_option():
  """DT's 3-D blocks keep T by default (documented: the paper is silent); downsample_time=True halves T in
  each 3-D block that downsamples (T -> T/4 after two); the 2-D blocks never change T; a T that cannot be
  halved is a clear error."""
  assert inspect.signature(TemporalDiscriminator).parameters["downsample_time"].default is False
  assert model_config().dt_downsample_time is False
  doc = " ".join(TemporalDiscriminator.__doc__.split())
  assert "downsample_time: whether the 3-D blocks also halve T. Default False" in doc
  assert "the paper is silent" in doc
  v = video(1, 8, 16)
  for flag, expected_t in ((False, [8, 8, 8]), (True, [4, 2, 2])):
    dt = tiny_dt(0, multipliers=(1, 2, 2, 2), downsample_time=flag)
    dt(v, None, training=False)
    assert [type(b) for b in dt.blocks] == [L.DBlock3D, L.DBlock3D, L.DBlock, L.DBlock]
    h = dt.preprocess(v)
    ts = []
    for block in dt.blocks[:2]:
      h = block(h, training=False)
      ts.append(h.shape[1])
    frames, b, t = L.fold_time(h)
    ts.append(L.unfold_time(dt.blocks[2](frames, training=False), b, t).shape[1])
    assert ts == expected_t, (flag, ts)
  with pytest.raises(ValueError, match="T=6 cannot be halved"):
    tiny_dt(0, multipliers=(1, 2, 2, 2), downsample_time=True)(video(1, 6, 16), None)


def test_dt_3d_blocks_mix_time():
  """DT's score depends on the ORDER of the frames (its 3-D convolutions see time), while DS with k = T
  (a sum of per-frame scores) does not."""
  v = video(1, 4, 8)
  rev = v[:, ::-1]
  dt = tiny_dt(0, multipliers=(1, 2))
  assert abs(float(dt(v, None, training=False)[0]) - float(dt(rev, None, training=False)[0])) > 1e-5
  ds = tiny_ds(0, k=4)
  np.testing.assert_allclose(ds(v, None, training=False), ds(rev, None, training=False), rtol=1e-5, atol=1e-6)


def test_bad_inputs_raise_one_line_errors():
  """A resolution the blocks cannot halve, a non-video input and k < 1 give clear ValueErrors."""
  with pytest.raises(ValueError, match="cannot be halved"):
    tiny_ds(0, multipliers=(1, 2, 2, 2))(video(1, 2, 4), None)
  with pytest.raises(ValueError, match="cannot be halved"):
    tiny_dt(0, phi="avgpool4", multipliers=(1, 2, 2))(video(1, 2, 8), None)
  with pytest.raises(ValueError, match=r"\[B, T, H, W, C\]"):
    tiny_ds(0)(tf.zeros([2, 8, 8, 3]), None)
  with pytest.raises(ValueError, match="ds_k"):
    tiny_ds(0, k=0)
