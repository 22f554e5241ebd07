"""DVD-GAN's dual discriminator (docs/paper.md, section 3.1 and appendix A.2).

SpatialDiscriminator DS: for each video, k of its T frames are drawn uniformly at random WITHOUT replacement,
independently for every video of the batch (k >= T: all frames, no sampling); each frame goes alone through a
BigGAN discriminator at full resolution; the score of a video is the SUM of its k frame scores.

TemporalDiscriminator DT: phi(video) (default 2x2 average pooling in space: T x H/2 x W/2), then
`num_3d_blocks` (2) 3-D residual blocks (3x3x3 convs; by default they halve H and W but keep T: the paper is
silent, `downsample_time=True` halves T too), then 2-D BigGAN blocks applied per frame, ReLU, and a SUM over
the remaining T x H x W positions (BigGAN's global sum pooling extended to time) -> one score per video.

Both: one block per multiplier, every block but the last halves the spatial size, the first block has no
pre-activation (BigGAN); ReLU and global sum pooling, then the projection head
score = linear(h) + <embed(y), h> (Miyato & Koyama); `num_classes = 0` drops the projection.

Randomness (DS's frame choice, DT's `random_crop_half`): `call(..., seed=None)`. With `seed` (an int
tensor `[2]`) the draw is `tf.random.stateless_*`, a pure function of the seed: this is what the training loop
should pass (e.g. derived from the step and the replica id, so replicas draw differently). With `seed=None`
the layer's own `keras.random.SeedGenerator` (seeded by the constructor's `seed`) is used: deterministic
for a fixed constructor seed on one device, but its state variable is not meant for replica contexts.
"""
import keras
import tensorflow as tf

from dvd_gan import layers as L
from dvd_gan.models.heads import ProjectionHead
from dvd_gan.models.saving import BuildByTracing

_PACKAGE = "dvd_gan"
PHI_KINDS = ("avgpool2", "avgpool4", "identity", "random_crop_half")


def _check_video(video, name):
  if video.shape.rank != 5:
    raise ValueError(f"{name} expects videos [B, T, H, W, C], got shape {video.shape}")


def _uniform(shape, seed, generator, dtype=tf.float32, maxval=None):
  """Uniform draw: stateless from `seed` `[2]` if given, else from the keras SeedGenerator."""
  if seed is not None:
    seed = tf.cast(seed, tf.int64)
    if dtype.is_integer:
      return tf.random.stateless_uniform(shape, seed=seed, minval=0, maxval=maxval, dtype=dtype)
    return tf.random.stateless_uniform(shape, seed=seed, dtype=dtype)
  if dtype.is_integer:
    return keras.random.randint(shape, 0, maxval, dtype=dtype.name, seed=generator)
  return keras.random.uniform(shape, dtype=dtype.name, seed=generator)


def sample_frame_indices(batch_size, num_frames, k, seed=None, generator=None):
  """k distinct frame indices per video, drawn independently per video, sorted: `[B, k]` int32.

  Uniform without replacement: the k smallest of T i.i.d. uniform keys (a uniformly random permutation's
  first k entries). k >= T returns every frame `[0, T)` for every video.
  """
  if k >= num_frames:
    return tf.tile(tf.range(num_frames, dtype=tf.int32)[None], [batch_size, 1])
  keys = _uniform([batch_size, num_frames], seed, generator)
  _, idx = tf.math.top_k(-keys, k=k)
  return tf.sort(tf.cast(idx, tf.int32), axis=1)


def apply_phi(video, phi, seed=None, generator=None):
  """DT's input transformation phi: `[B, T, H, W, C]` -> `[B, T, H', W', C]`.

  avgpool2 / avgpool4: average pooling of 2x2 / 4x4 pixels (H' = H/2 / H/4); identity; random_crop_half:
  an H/2 x W/2 window at a uniformly random position, drawn independently per video (same for its frames).
  """
  _check_video(video, "phi")
  if phi == "identity":
    return video
  if phi in ("avgpool2", "avgpool4"):
    f = 2 if phi == "avgpool2" else 4
    # one pooling kernel: on CPU faster than a mean over two axes of a [B, T, H/f, f, W/f, f, C] reshape
    return tf.nn.avg_pool3d(video, ksize=[1, f, f], strides=[1, f, f], padding="VALID")
  if phi == "random_crop_half":
    b, _, h, w, _ = L.util.static_or_dynamic_shape(video)
    ch, cw = h // 2, w // 2
    offsets = _uniform([b, 2], seed, generator, dtype=tf.int32, maxval=h - ch + 1)
    offsets = tf.minimum(offsets, [[h - ch, w - cw]])
    rows = offsets[:, :1] + tf.range(ch)[None]  # [B, H/2]
    cols = offsets[:, 1:] + tf.range(cw)[None]  # [B, W/2]
    video = tf.gather(video, rows, axis=2, batch_dims=1)
    return tf.gather(video, cols, axis=3, batch_dims=1)
  raise ValueError(f"dt_phi must be one of {PHI_KINDS}, got {phi!r}")


def phi_factor(phi):
  """How much phi shrinks H and W (random_crop_half halves them)."""
  if phi not in PHI_KINDS:
    raise ValueError(f"dt_phi must be one of {PHI_KINDS}, got {phi!r}")
  return {"avgpool2": 2, "avgpool4": 4, "identity": 1, "random_crop_half": 2}[phi]


def check_discriminator_input(name, height, width, num_blocks, factor=1):
  """Raises a one-line ValueError unless `[H/factor, W/factor]` survives num_blocks - 1 halvings."""
  n_down = num_blocks - 1
  for size in (height, width):
    if size is None:
      continue
    if size % factor or (size // factor) % (2 ** n_down) or size // factor < 2 ** n_down:
      raise ValueError(
          f"{name}: input size {height}x{width} (/{factor}) cannot be halved {n_down} times by "
          f"{num_blocks} blocks; use a resolution divisible by {factor * 2 ** n_down}")


def _apply_block(block, h, training, remat):
  """block(h), rematerialised (layers.remat) in training calls when `remat`."""
  if remat and training:
    return L.remat(lambda x: block(x, training=training))(h)
  return block(h, training=training)


def _check_multipliers(name, multipliers):
  if len(multipliers) < 1:
    raise ValueError(f"{name} multipliers must have at least one entry")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SpatialDiscriminator(BuildByTracing, keras.Model):
  """DS: `call(video [B, T, H, W, 3], y [B] or None, training=None, seed=None) -> [B]` float32.

  Args:
    num_classes: 0 = unconditional.
    ch, multipliers: block i has ch * multipliers[i] channels.
    k: frames sampled per video (k >= T: all frames).
    attention_blocks: indices of blocks after which a (per-frame) SelfAttention over H x W is applied.
    seed: seed of the fallback SeedGenerator used when `call` gets no `seed`.
    remat: recompute each residual block in the backward pass instead of storing its activations.
  """

  def __init__(self, num_classes, ch, multipliers, k=8, attention_blocks=(), seed=0, remat=False, **kwargs):
    super().__init__(**kwargs)
    multipliers = tuple(int(m) for m in multipliers)
    _check_multipliers("ds", multipliers)
    if int(k) < 1:
      raise ValueError(f"ds_k must be >= 1, got {k}")
    self.num_classes = int(num_classes)
    self.ch = int(ch)
    self.multipliers = multipliers
    self.k = int(k)
    self.attention_blocks = tuple(int(i) % len(multipliers) for i in attention_blocks)
    self.seed = int(seed)
    self.remat = bool(remat)
    n = len(multipliers)
    self.blocks = [L.DBlock(self.ch * m, downsample=i < n - 1, preactivation=i > 0, name=f"dblock_{i}")
                   for i, m in enumerate(multipliers)]
    self.attentions = [L.SelfAttention(axes=(2, 3), name=f"attention_{i}") for i in self.attention_blocks]
    self.head = ProjectionHead(self.num_classes, name="head")
    self.seed_generator = keras.random.SeedGenerator(self.seed, name="frame_sampler")

  def frame_features(self, frames, training=None):
    """BigGAN D body on single frames: `[N, H, W, 3]` -> ReLU + sum over H, W -> `[N, C]`."""
    check_discriminator_input("SpatialDiscriminator", frames.shape[1], frames.shape[2], len(self.blocks))
    attention = dict(zip(self.attention_blocks, self.attentions))
    h = tf.cast(frames, self.compute_dtype)
    for i, block in enumerate(self.blocks):
      h = _apply_block(block, h, training, self.remat)
      if i in attention:
        h = attention[i](h[:, None], training=training)[:, 0]
    return tf.reduce_sum(tf.nn.relu(h), axis=[1, 2])

  def frame_scores(self, frames, y=None, training=None):
    """Score of each frame alone: frames `[N, H, W, 3]`, y `[N]` or None -> `[N]` float32."""
    return self.head(self.frame_features(frames, training=training), y, training=training)

  def sample_frames(self, video, seed=None):
    """`[B, T, H, W, C]` -> `([B, k', H, W, C], indices [B, k'])`, k' = min(k, T), per-video draws."""
    _check_video(video, "SpatialDiscriminator")
    b, t = L.util.static_or_dynamic_shape(video)[:2]
    if not isinstance(t, int):
      raise ValueError("SpatialDiscriminator needs a static number of frames T")
    idx = sample_frame_indices(b, t, self.k, seed=seed, generator=self.seed_generator)
    return tf.gather(video, idx, axis=1, batch_dims=1), idx

  def call(self, video, y=None, training=None, seed=None):
    frames, _ = self.sample_frames(tf.convert_to_tensor(video), seed=seed)
    k = frames.shape[1]
    folded, b, _ = L.fold_time(frames)
    h = self.frame_features(folded, training=training)                  # [B*k, C]
    h = tf.reshape(h, [b, k, h.shape[-1]])                              # [B, k, C]
    return tf.reduce_sum(self.head(h, y, training=training), axis=1)    # sum of k frame scores: [B]

  def get_config(self):
    config = super().get_config()
    config.update({
        "num_classes": self.num_classes,
        "ch": self.ch,
        "multipliers": self.multipliers,
        "k": self.k,
        "attention_blocks": self.attention_blocks,
        "seed": self.seed,
        "remat": self.remat,
    })
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TemporalDiscriminator(BuildByTracing, keras.Model):
  """DT: `call(video [B, T, H, W, 3], y [B] or None, training=None, seed=None) -> [B]` float32.

  Args:
    num_classes: 0 = unconditional.
    ch, multipliers: block i has ch * multipliers[i] channels.
    phi: "avgpool2" (paper) | "avgpool4" | "identity" | "random_crop_half".
    num_3d_blocks: how many of the first blocks are 3-D (DBlock3D); the paper has 2.
    downsample_time: whether the 3-D blocks also halve T. Default False: T is kept, so DT judges motion at
      the full frame rate (the paper is silent; see docs/models.md).
    attention_blocks: indices of 2-D blocks after which a per-frame SelfAttention over H x W is applied.
    seed: seed of the fallback SeedGenerator (random_crop_half) used when `call` gets no `seed`.
    remat: recompute each residual block in the backward pass instead of storing its activations.
  """

  def __init__(self, num_classes, ch, multipliers, phi="avgpool2", num_3d_blocks=2,
               downsample_time=False, attention_blocks=(), seed=0, remat=False, **kwargs):
    super().__init__(**kwargs)
    multipliers = tuple(int(m) for m in multipliers)
    _check_multipliers("dt", multipliers)
    phi_factor(phi)
    n = len(multipliers)
    if not 0 <= int(num_3d_blocks) <= n:
      raise ValueError(f"dt_num_3d_blocks must be in [0, {n}], got {num_3d_blocks}")
    self.num_classes = int(num_classes)
    self.ch = int(ch)
    self.multipliers = multipliers
    self.phi = phi
    self.num_3d_blocks = int(num_3d_blocks)
    self.downsample_time = bool(downsample_time)
    self.attention_blocks = tuple(int(i) % n for i in attention_blocks)
    for i in self.attention_blocks:
      if i < self.num_3d_blocks:
        raise ValueError(f"dt_attention_blocks: block {i} is a 3-D block; attention only after 2-D blocks")
    self.seed = int(seed)
    self.remat = bool(remat)
    self.blocks = []
    for i, m in enumerate(multipliers):
      kw = dict(downsample=i < n - 1, preactivation=i > 0)
      if i < self.num_3d_blocks:
        self.blocks.append(L.DBlock3D(self.ch * m, downsample_time=self.downsample_time and i < n - 1,
                                      name=f"dblock3d_{i}", **kw))
      else:
        self.blocks.append(L.DBlock(self.ch * m, name=f"dblock_{i}", **kw))
    self.attentions = [L.SelfAttention(axes=(2, 3), name=f"attention_{i}") for i in self.attention_blocks]
    self.head = ProjectionHead(self.num_classes, name="head")
    self.seed_generator = keras.random.SeedGenerator(self.seed, name="phi_sampler")

  def preprocess(self, video, seed=None):
    """phi(video): `[B, T, H, W, C]` -> `[B, T, H', W', C]` (T x H/2 x W/2 for the default avgpool2)."""
    return apply_phi(tf.convert_to_tensor(video), self.phi, seed=seed, generator=self.seed_generator)

  def call(self, video, y=None, training=None, seed=None):
    video = tf.convert_to_tensor(video)
    _check_video(video, "TemporalDiscriminator")
    check_discriminator_input("TemporalDiscriminator", video.shape[2], video.shape[3], len(self.blocks),
                              phi_factor(self.phi))
    t = video.shape[1]
    n_time_down = min(self.num_3d_blocks, len(self.blocks) - 1) if self.downsample_time else 0
    if t is not None and (t % (2 ** n_time_down)):
      raise ValueError(f"TemporalDiscriminator: T={t} cannot be halved {n_time_down} times "
                       "(dt_downsample_time=True)")
    h = tf.cast(self.preprocess(video, seed=seed), self.compute_dtype)
    attention = dict(zip(self.attention_blocks, self.attentions))
    for i, block in enumerate(self.blocks):
      if i < self.num_3d_blocks:
        h = _apply_block(block, h, training, self.remat)                # [B, T', H', W', C]
      else:
        frames, b, t = L.fold_time(h)
        h = L.unfold_time(_apply_block(block, frames, training, self.remat), b, t)
        if i in attention:
          h = attention[i](h, training=training)
    h = tf.reduce_sum(tf.nn.relu(h), axis=[1, 2, 3])                    # sum over T', H', W': [B, C]
    return self.head(h, y, training=training)

  def get_config(self):
    config = super().get_config()
    config.update({
        "num_classes": self.num_classes,
        "ch": self.ch,
        "multipliers": self.multipliers,
        "phi": self.phi,
        "num_3d_blocks": self.num_3d_blocks,
        "downsample_time": self.downsample_time,
        "attention_blocks": self.attention_blocks,
        "seed": self.seed,
        "remat": self.remat,
    })
    return config
