"""The DVD-GAN training step: one code path for the default, mirrored, multi-worker and TPU strategies.

One training step (= one G step, the unit of `config.train.num_steps`) is:

  for i in range(d_steps_per_g_step):          # 2 in the paper
    real batch <- next(iterator)               # fresh real data for every D update
    z, y, DS frames <- seed_i                  # fresh samples for every D update
    D <- Adam_D(D, grad (hinge_DS + hinge_DT))
  z, y, DS frames <- seed_G                    # the G update samples anew too
  G <- Adam_G(G, grad (-DS(G(z)) - DT(G(z))))
  G_ema <- EMA(G)

DVD-GAN-FP (config.data.num_conditioning_frames = C > 0; docs/paper.md, DVD-GAN-FP): every batch carries
`context` [b, C, H, W, 3]; G predicts the T frames that follow it, and DS and DT see [context; video]
(C + T frames) for real and generated videos alike; DS's k frames are drawn from all C + T. The G update takes
the conditioning frames of a fresh real batch (so a step reads d_steps_per_g_step + 1 batches:
`batches_per_step`). A generator that takes no conditioning frames with such a config is an error.

The seeds come from a checkpointed tf.random.Generator; the per-step random numbers are drawn for the global
batch and sliced per replica (randomness.py). Per-replica losses are divided by the number of replicas, and
Keras 3 optimizers sum gradients over replicas, so the update is that of the mean loss over the global batch.

`train_loop(iterator, n)` runs n such steps inside ONE tf.function call (config.train.steps_per_loop): the
host dispatches one call per n steps instead of one per step, which is what keeps a TPU busy. It stops early
at the first step whose metrics are not all finite and says so.
"""
import contextlib
import inspect

import keras
import tensorflow as tf

from dvd_gan import losses as gan_losses
from dvd_gan import random_streams
from dvd_gan.layers import spectral_norm
from dvd_gan.models.prediction_generator import takes_conditioning_frames
from dvd_gan.training import lr_schedule
from dvd_gan.training import precision as precision_lib
from dvd_gan.training import randomness
from dvd_gan.training.ema import EMA
from dvd_gan.models import build as build_lib


# The metrics one training step returns (scalars, cross-replica means): those of its last D update, then
# those of its G update. `train_loop` needs their names before its first step.
D_METRICS = ("d_loss", "d_loss_ds", "d_loss_dt", "ds_real", "ds_fake", "dt_real", "dt_fake",
             "loss_ds_real", "loss_ds_fake", "loss_dt_real", "loss_dt_fake")
G_METRICS = ("g_loss", "g_loss_ds", "g_loss_dt")
METRICS = D_METRICS + G_METRICS


def _accepts(fn, name: str) -> bool:
  try:
    return name in inspect.signature(fn).parameters
  except (TypeError, ValueError):
    return False


class Trainer:
  """Holds the models, optimisers, EMA and seed generator, and builds the distributed step functions.

  Build it inside nothing: it enters `strategy.scope()` itself. `models` is (G, DS, DT, G_ema) built in that
  scope (see `build_trainer`).
  """

  def __init__(self, config, strategy, models):
    self.config, self.strategy = config, strategy
    t = config.train
    self.G, self.DS, self.DT, self.G_ema = models
    self.num_classes = int(config.num_classes)
    self.z_dim = int(config.model.z_dim)
    self.num_frames = int(config.num_frames)
    self.ds_k = int(config.model.ds_k)
    self.num_context = int(config.data.get("num_conditioning_frames", 0))
    g_context = takes_conditioning_frames(self.G)
    if g_context != self.num_context:
      if not g_context:
        raise ValueError(f"config.data.num_conditioning_frames is {self.num_context}, but the generator "
                         f"({type(self.G).__name__}) takes no conditioning frames (synthesis only): use the "
                         "DVD-GAN-FP generator (dvd_gan.models.build with this config)")
      raise ValueError(f"the generator predicts from {g_context} conditioning frames, but "
                       f"config.data.num_conditioning_frames is {self.num_context}")
    self.d_frames = self.num_frames + self.num_context   # frames DS and DT see
    self.global_batch = int(config.batch_size)
    n = strategy.num_replicas_in_sync
    if self.global_batch % n:
      raise ValueError(f"batch_size {self.global_batch} is not divisible by the {n} replicas")
    self.per_replica_batch = self.global_batch // n
    self.d_steps = int(t.d_steps_per_g_step)
    if self.d_steps < 1:
      raise ValueError(f"d_steps_per_g_step must be >= 1, got {self.d_steps}")
    self.batches_per_step = self.d_steps + (1 if self.num_context else 0)
    self._dt_takes_seed = _accepts(self.DT.call, "seed")
    # The spectral norms of G, and of DS and DT together, batched in training calls (spectral_norm.batched);
    # not with rematerialised blocks, whose recomputation re-derives each kernel itself.
    self._batch_sn = not bool(config.model.get("remat", False))
    # Power iterations of D's spectral norms per D update (the G update's call of D makes one).
    self._d_sn_iterations = int(t.get("d_sn_iterations", 1))
    if self._d_sn_iterations < 1:
      raise ValueError(f"train.d_sn_iterations must be >= 1, got {self._d_sn_iterations}")
    self._g_sn, self._d_sn = (
        [x for m in models for x in m._flatten_layers(include_self=False)
         if isinstance(x, spectral_norm._SpectralNormLayer)] for models in ((self.G,), (self.DS, self.DT)))
    with strategy.scope():
      fused = bool(t.get("fused_adam", True))
      g_lr = lr_schedule.learning_rate(t.g_lr, t)
      d_lr = lr_schedule.learning_rate(t.d_lr, t, updates_per_step=self.d_steps)
      self.g_opt = precision_lib.make_optimizer(g_lr, t.beta1, t.beta2, t.mixed_precision, fused)
      self.d_opt = precision_lib.make_optimizer(d_lr, t.beta1, t.beta2, t.mixed_precision, fused)
      self.g_vars = list(self.G.trainable_variables)
      self.d_vars = list(self.DS.trainable_variables) + list(self.DT.trainable_variables)
      self.g_opt.build(self.g_vars)
      self.d_opt.build(self.d_vars)
      self.ema = EMA(self.G, self.G_ema, t.ema_decay, t.ema_start_step)
      self.ema.copy()
    # Host-side state (not replicated): the G-step counter and the seed generator.
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    self.rng = tf.random.Generator.from_seed(int(config.seed))
    jit = bool(t.xla)
    self.train_step = tf.function(self._train_step)
    self.train_loop = tf.function(self._train_loop)
    self._d_step_fn = tf.function(self.d_step, jit_compile=True) if jit else self.d_step
    self._g_step_fn = tf.function(self.g_step, jit_compile=True) if jit else self.g_step
    self.sample = tf.function(self._sample)

  # ---- per-replica pieces ------------------------------------------------------------------------------

  def _spectral_norms(self, layers, iterations=1):
    """The scope in which the training calls of `layers`' networks take batched spectral norms (unless
    rematerialised), each making `iterations` power iterations."""
    return spectral_norm.batched(layers if self._batch_sn else (), iterations)

  def _ds(self, video, y, indices, training=True):
    """DS scores [b] on the k frames `indices` [b, k] of each video (drawn for the global batch).

    The frames are gathered here and DS gets a k-frame clip, which it scores whole (k >= its T: no
    sampling of its own), i.e. DS's score with these frame indices.
    """
    if self.ds_k < self.d_frames:
      video = tf.gather(video, indices, axis=1, batch_dims=1)
    return self.DS(video, y, training=training)

  def _dt(self, video, y, seed, training=True):
    """DT scores [b]; `seed` drives DT's own randomness (phi = random_crop_half), distinct per replica."""
    if self._dt_takes_seed:
      ctx = tf.distribute.get_replica_context()
      rid = ctx.replica_id_in_sync_group if ctx is not None else 0
      seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(rid, tf.int32))
      return self.DT(video, y, training=training, seed=seed)
    return self.DT(video, y, training=training)

  def _draw(self, seed):
    """This replica's z [b, z_dim], fake labels y [b] (or None) and DS frame indices [b, k] for fakes/reals."""
    B, b = self.global_batch, self.per_replica_batch
    s = tf.random.experimental.stateless_split(seed, 4)
    z, y = random_streams.latents(s[0], B, self.z_dim, self.num_classes)
    z = randomness.replica_slice(z, b)
    y = randomness.replica_slice(y, b) if y is not None else None
    fi = randomness.replica_slice(randomness.frame_indices(s[1], B, self.d_frames, self.ds_k), b)
    ri = randomness.replica_slice(randomness.frame_indices(s[2], B, self.d_frames, self.ds_k), b)
    return z, y, fi, ri, s[3]

  def _generate(self, z, y, context, training=True):
    """G's video as D sees it: G(z, y) [b, T, ...], or [context; G(z, context)] [b, C + T, ...] (FP)."""
    if context is None:
      return self.G(z, y, training=training)
    prediction = self.G(z, context, training=training)
    return tf.concat([tf.cast(context, prediction.dtype), prediction], axis=1)

  def _d_scores(self, real, fake, y_real, y_fake, real_idx, fake_idx, dt_seed):
    """(DS real, DS fake, DT real, DT fake) scores, float32 [b] each, of the D step's reals and fakes."""
    # ONE call of each discriminator on [real; fake] (BigGAN's D(cat(x, G(z)))): D has no batch-dependent
    # layer, so the scores are those of two calls with the same u, every layer's ops run once instead of
    # twice, and each spectral norm makes one power iteration per D update (train.d_sn_iterations: more).
    n_real = tf.shape(real)[0]
    videos = tf.concat([real, fake], axis=0)
    labels = None if y_real is None else tf.concat([y_real, y_fake], axis=0)
    ds = tf.cast(self._ds(videos, labels, tf.concat([real_idx, fake_idx], axis=0)), tf.float32)
    dt = tf.cast(self._dt(videos, labels, dt_seed), tf.float32)
    return ds[:n_real], ds[n_real:], dt[:n_real], dt[n_real:]

  @contextlib.contextmanager
  def _g_tape(self):
    """The G step's tape, watching G's variables only: D's weights need no gradient there, and a watched D kernel
    would make every D convolution's backward pass compute its filter gradient too."""
    with tf.GradientTape(watch_accessed_variables=False) as tape:
      tape.watch([v.value for v in self.g_vars])
      yield tape

  def d_step(self, batch, seed):
    """One D update on a per-replica real batch {"video": [b,T,H,W,3], "label": [b]} (+ "context"
    [b,C,H,W,3] for DVD-GAN-FP) and fresh samples."""
    n = randomness.num_replicas()
    z, y_fake, fake_idx, real_idx, dt_seed = self._draw(seed)
    real = batch["video"]
    y_real = batch["label"] if self.num_classes > 0 else None
    context = batch["context"] if self.num_context else None
    if context is not None:
      real = tf.concat([tf.cast(context, real.dtype), real], axis=1)
    with self._spectral_norms(self._g_sn):
      fake = tf.stop_gradient(self._generate(z, y_fake, context))
    fake = tf.cast(fake, real.dtype)
    with tf.GradientTape() as tape, self._spectral_norms(self._d_sn, self._d_sn_iterations):
      ds_real, ds_fake, dt_real, dt_fake = self._d_scores(real, fake, y_real, y_fake, real_idx, fake_idx, dt_seed)
      loss_ds = gan_losses.d_hinge_loss(ds_real, ds_fake)
      loss_dt = gan_losses.d_hinge_loss(dt_real, dt_fake)
      loss = loss_ds + loss_dt
      scaled = self.d_opt.scale_loss(loss / n)
    grads = tape.gradient(scaled, self.d_vars)
    self.d_opt.apply_gradients(zip(grads, self.d_vars))
    return {
        "d_loss": loss, "d_loss_ds": loss_ds, "d_loss_dt": loss_dt,
        "ds_real": tf.reduce_mean(ds_real), "ds_fake": tf.reduce_mean(ds_fake),
        "dt_real": tf.reduce_mean(dt_real), "dt_fake": tf.reduce_mean(dt_fake),
        "loss_ds_real": tf.reduce_mean(tf.nn.relu(1.0 - ds_real)),
        "loss_ds_fake": tf.reduce_mean(tf.nn.relu(1.0 + ds_fake)),
        "loss_dt_real": tf.reduce_mean(tf.nn.relu(1.0 - dt_real)),
        "loss_dt_fake": tf.reduce_mean(tf.nn.relu(1.0 + dt_fake)),
    }

  def g_step(self, seed, batch=None):
    """One G update on freshly drawn z, y (never the D step's samples); DVD-GAN-FP: conditioned on the
    "context" of `batch`, a real batch of its own."""
    n = randomness.num_replicas()
    z, y, idx, _, dt_seed = self._draw(seed)
    context = batch["context"] if self.num_context else None
    with self._g_tape() as tape:
      # G's and D's spectral norms apart: D's weights are read after the D update, G's need not wait for it
      with self._spectral_norms(self._g_sn):
        fake = self._generate(z, y, context)
      with self._spectral_norms(self._d_sn):
        ds_fake = tf.cast(self._ds(fake, y, idx), tf.float32)
        dt_fake = tf.cast(self._dt(fake, y, dt_seed), tf.float32)
      loss_ds = gan_losses.g_hinge_loss(ds_fake)
      loss_dt = gan_losses.g_hinge_loss(dt_fake)
      loss = loss_ds + loss_dt
      scaled = self.g_opt.scale_loss(loss / n)
    grads = tape.gradient(scaled, self.g_vars)
    self.g_opt.apply_gradients(zip(grads, self.g_vars))
    return {"g_loss": loss, "g_loss_ds": loss_ds, "g_loss_dt": loss_dt}

  # ---- cross-replica step ------------------------------------------------------------------------------

  def _mean(self, per_replica):
    return {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
            for k, v in per_replica.items()}

  def _train_step(self, iterator):
    """One G step with its D steps; returns a dict of scalar metrics (losses of the last D step)."""
    seeds = self.rng.make_seeds(self.d_steps + 1)        # [2, d + 1] int64
    metrics = {}
    for i in range(self.d_steps):
      batch = next(iterator)
      metrics = self._mean(self.strategy.run(self._d_step_fn, (batch, seeds[:, i])))
    g_args = (seeds[:, self.d_steps],) + ((next(iterator),) if self.num_context else ())
    metrics.update(self._mean(self.strategy.run(self._g_step_fn, g_args)))
    self.step.assign_add(1)
    self.ema.update(self.step)
    return metrics

  def _train_loop(self, iterator, num_steps):
    """`num_steps` (int32 scalar tensor) training steps in one call; stops after the first non-finite step.

    Returns:
      (metrics of the last step run: {name: float32 scalar}, finite: bool scalar, False when that step's
      metrics are not all finite; `self.step` then holds that step's number).
    """
    metrics = {k: tf.constant(0.0) for k in METRICS}
    finite = tf.constant(True)
    for _ in tf.range(num_steps):
      step_metrics = self._train_step(iterator)
      if set(step_metrics) != set(METRICS):
        raise ValueError(f"train step metrics {sorted(step_metrics)} != trainer.METRICS {sorted(METRICS)}")
      metrics = {k: step_metrics[k] for k in METRICS}
      finite = tf.reduce_all(tf.stack([tf.math.is_finite(v) for v in metrics.values()]))
      if not finite:
        break
    return metrics, finite

  def _sample(self, z, y, context=None, training=False):
    """G_ema(z, y) [B, T, H, W, 3] float32 in [-1, 1] (one device; for summaries and evaluation); DVD-GAN-FP:
    [context; G_ema(z, context)] [B, C + T, H, W, 3]."""
    if self.num_context:
      prediction = tf.cast(self.G_ema(z, context, training=training), tf.float32)
      return tf.concat([tf.cast(context, tf.float32), prediction], axis=1)
    return tf.cast(self.G_ema(z, y if self.num_classes > 0 else None, training=training), tf.float32)


def clone_generator(G, config, build_models):
  """A second generator with G's architecture and fresh variables (for the EMA)."""
  try:
    G_ema = G.__class__.from_config(G.get_config())
  except Exception:
    return build_models(config)[0]
  z = tf.zeros([1, int(config.model.z_dim)])
  y = tf.zeros([1], tf.int32) if int(config.num_classes) > 0 else None
  c = takes_conditioning_frames(G)
  if c:  # DVD-GAN-FP: G_ema(z, context)
    y = tf.zeros([1, c, int(config.resolution), int(config.resolution), 3])
  G_ema(z, y, training=False)
  return G_ema


def build_trainer(config, strategy, build_models=None):
  """Builds (G, DS, DT, G_ema) in `strategy.scope()` under the configured precision, and the Trainer.

  With config.train.deterministic the initial weights are a function of config.seed (Keras' global seed is
  set from it before the models are built).
  """
  if build_models is None:
    build_models = build_lib.build_models
  if config.train.get("deterministic", False):
    # The layers' initialisers are unseeded (Keras draws their seeds from its global generator): seed it so
    # that two runs of the same config start from the same weights (bit-exact resume == straight run).
    keras.utils.set_random_seed(int(config.seed))
  with strategy.scope(), precision_lib.policy_scope(config.train.mixed_precision):
    G, DS, DT = build_models(config)
    G_ema = clone_generator(G, config, build_models)
  return Trainer(config, strategy, (G, DS, DT, G_ema))
