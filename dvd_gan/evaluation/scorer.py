"""Scores a generator under an `eval.protocols` protocol: samples -> features -> metrics against cached real
statistics. Used by the evaluation during training (periodic_eval) and by `python -m dvd_gan.evaluate`.

    scorer = GeneratorScorer(config, stats_dir="runs/x/real_stats", strategy=strategy)
    result = scorer.score(trainer.G_ema, "demo_fvd")      # eval.scoring.ProtocolResult
    result.values()                                      # {"demo_fvd/fvd": 312.5}

- Samples: `protocol.num_fake` videos of `generator(z, y, training=False)`, z ~ N(0, truncation^2) with the
  protocol's truncation, y uniform over the classes, drawn from `eval.seed` (the same z at every evaluation,
  so the curve over steps is not made noisier by new latents). Quantised to uint8 exactly as saved samples
  are (round((x + 1) * 127.5)), never re-encoded.
- Real statistics: the first `protocol.num_real` (all, when None) videos of the run's data pipeline in
  evaluation mode (`make_dataset(split, training=False)`: fixed frame offset, centre crops, the run's
  resolution and stride), computed once into `eval.stats_dir` by `eval.real_stats` and reused afterwards.
- Device: by default everything runs in the caller's device scope (the chief's GPU when it has one). With
  `on_replicas` (`eval.on_replicas`: "auto" = on TPU) sampling, and the feature extraction of fake and real
  videos, run inside `strategy.run` on every replica, each on its rows of the batch (`sample_function`,
  `ReplicaNetwork`); the batch is rounded up to a multiple of the number of replicas.
"""
import numpy as np
import tensorflow as tf

from dvd_gan import random_streams
from dvd_gan.evaluation import protocols as run_protocols
from dvd_gan.generators import to_uint8
from dvd_gan.training import randomness
from eval.errors import EvalError
from eval.protocols import get_protocol
from eval.stats import FeatureStats
from dvd_gan import data as data_lib
from dvd_gan.evaluation import prediction as prediction_eval
from eval import real_stats
from eval import scoring
from eval import api as eval_api
from eval.metrics import MetricResult
from eval.scoring import ProtocolResult



def to_uint8_numpy(videos) -> np.ndarray:
  """float [..] in [-1, 1] (any float dtype) -> uint8 numpy array round((x + 1) * 127.5), clipped to [0, 255]:
  `generators.to_uint8` in float32, as the exported signatures quantise samples."""
  return to_uint8(tf.cast(videos, tf.float32)).numpy()


def latents(config, num_videos: int, seed: int, truncation: float = 1.0):
  """z [N, z_dim] ~ N(0, truncation^2 I), y [N] int32 (None when unconditional), a pure function of seed."""
  return random_streams.latents(random_streams.key(int(seed), random_streams.Stream.EVALUATION), int(num_videos),
                                int(config.model.z_dim), int(config.num_classes), truncation=float(truncation))


def is_prediction(config) -> bool:
  """Whether the run is frame-conditional (DVD-GAN-FP: data.num_conditioning_frames > 0)."""
  return int(config.data.get("num_conditioning_frames", 0)) > 0


def _check_unconditioned(config):
  if is_prediction(config):
    raise EvalError("frame-conditional runs are scored by GeneratorScorer.score (prediction FVD), not by "
                    "unconditional sampling")


def sample_function(generator, strategy=None):
  """`(z, y) -> generator(z, y, training=False)` as a tf.function (trace once, call every evaluation).

  With `strategy`, each replica generates its rows of the batch (the batch size must be a multiple of the
  number of replicas) and the videos are gathered."""
  if strategy is None:
    return tf.function(lambda z, y: generator(z, y, training=False))
  n = strategy.num_replicas_in_sync

  def replica_fn(z, y):
    b = z.shape[0] // n
    yr = None if y is None else randomness.replica_slice(y, b)
    return tf.cast(generator(randomness.replica_slice(z, b), yr, training=False), tf.float32)

  @tf.function
  def sample(z, y):
    return strategy.gather(strategy.run(replica_fn, args=(z, y)), axis=0)
  return sample


class ReplicaNetwork:
  """A FeatureNetwork (eval.networks interface) whose forward runs on every replica of `strategy`, each on
  its rows of the batch, the features gathered back: for eval.features.extract_layers on TPU replicas. The
  batch size must be a multiple of the number of replicas (extract_layers pads every batch to full size)."""

  def __init__(self, network, strategy):
    self.network, self.strategy = network, strategy
    for attr in ("name", "weights_sha256", "layers", "num_classes", "min_frames", "frames", "source"):
      setattr(self, attr, getattr(network, attr, None))

  def all_features(self, videos):
    """{layer: [B, D]} of every layer, one forward per replica."""
    n = self.strategy.num_replicas_in_sync
    net = self.network

    def replica_fn(x):
      rows = randomness.replica_slice(x, x.shape[0] // n)
      if hasattr(net, "all_features"):
        return net.all_features(rows)
      return {layer: net.features(rows, layer) for layer in net.layers}

    out = self.strategy.run(replica_fn, args=(tf.convert_to_tensor(videos),))
    return {layer: self.strategy.gather(v, axis=0) for layer, v in out.items()}

  def features(self, videos, layer):
    return self.all_features(videos)[layer]


def sample_batches(sample_fn, config, num_videos: int, batch_size: int, seed: int, truncation: float = 1.0,
                   classes: list | None = None):
  """Yields uint8 [batch_size, T, H, W, 3] batches of `sample_fn(z, y)` (see `sample_function`) from the
  latents `latents(config, N, seed, truncation)`, N = num_videos rounded up to full batches (every batch has
  the same shape, so G is traced once); callers keep the first num_videos. `classes`: a list that receives
  the class y asked for, of every video, when the run is class-conditional."""
  _check_unconditioned(config)
  batch_size = int(batch_size)
  total = -(-int(num_videos) // batch_size) * batch_size
  z, y = latents(config, total, seed, truncation)
  if classes is not None and y is not None:
    classes.extend(int(c) for c in y.numpy())
  for i in range(0, total, batch_size):
    yb = y[i:i + batch_size] if y is not None else None
    yield to_uint8_numpy(sample_fn(z[i:i + batch_size], yb))


def real_video_batches(config, split: str, batch_size: int, classes: list | None = None):
  """Yields uint8 [b, C + T, H, W, 3] batches of real videos of `split` (evaluation mode; the conditioning
  frames first when the run has them), until the split ends (synthetic splits never end: take what you need).
  `classes`: a list that receives the class label of every video yielded."""
  cfg = config.copy_and_resolve_references()
  cfg.batch_size = int(batch_size)
  for batch in data_lib.make_dataset(cfg, split=split, training=False):
    video = batch["video"]
    if "context" in batch:
      video = tf.concat([batch["context"], video], axis=1)
    if classes is not None:
      classes.extend(int(c) for c in batch["label"].numpy())
    yield to_uint8_numpy(video)


def use_replicas(config, strategy) -> bool:
  """eval.on_replicas: "yes" / "no" / "auto" (TPU strategies)."""
  mode = str(config.eval.get("on_replicas", "auto")).lower()
  if mode in ("yes", "true", "1"):
    return strategy is not None
  if mode in ("no", "false", "0"):
    return False
  if mode != "auto":
    raise ValueError(f"eval.on_replicas must be auto, yes or no; got {mode!r}")
  return strategy is not None and "TPU" in type(strategy).__name__


class GeneratorScorer:
  """Scores generators under protocols; feature networks and real statistics are loaded once and kept.

  Args:
    config: the run's resolved config.
    stats_dir: folder of the cached real statistics (local or gs://).
    strategy: the run's strategy (only needed with on_replicas).
    get_network: `(name, weights) -> FeatureNetwork`; default eval.api.get_feature_network.
    log: one-line logger.
    progress, real_progress: progress bars (stderr) of the fake videos' and of the real statistics' features.
    should_stop: `() -> bool` checked between the batches of every score (eval.interrupt): True raises
      Interrupted, and neither the score nor half of the real statistics is kept.
  """

  def __init__(self, config, *, stats_dir: str, strategy=None, get_network=None, log=print,
               progress: bool = False, real_progress: bool = True, should_stop=None):
    self.config, self.stats_dir, self.strategy, self.log, self.progress = config, stats_dir, strategy, log, progress
    self.should_stop = should_stop
    self.real_progress = real_progress  # the real statistics can take hours (a whole split): show a bar
    if get_network is None:
      get_network = eval_api.get_feature_network
    self._get_network = get_network
    self.on_replicas = use_replicas(config, strategy)
    self.batch_size = int(config.eval.batch_size)
    if self.on_replicas:  # every replica gets the same number of rows
      n = strategy.num_replicas_in_sync
      self.batch_size = -(-self.batch_size // n) * n
    self.seed = int(config.eval.get("seed", 1234))
    self._networks, self._real, self._functions = {}, {}, {}

  def network(self, name: str):
    """The feature network `name` with this run's weights for it (built once; in the strategy's scope when
    the features run on the replicas)."""
    if name not in self._networks:
      weights = run_protocols.network_weights(self.config, name)
      if self.on_replicas:
        with self.strategy.scope():
          self._networks[name] = ReplicaNetwork(self._get_network(name, weights), self.strategy)
      else:
        self._networks[name] = self._get_network(name, weights)
    return self._networks[name]

  def frames(self, protocol) -> int:
    p = get_protocol(protocol)
    total = int(self.config.num_frames) + int(self.config.data.get("num_conditioning_frames", 0))
    return p.frames or total

  def real_stats(self, protocol) -> FeatureStats:
    """The protocol's real statistics for this run (eval.real_stats cache; kept in memory afterwards)."""
    p = run_protocols.check_protocol(self.config, protocol)
    if p.name not in self._real:
      split = run_protocols.real_split(self.config, p)
      classes = [] if p.needs_labels else None  # the real videos' labels, for per-class scores
      self._real[p.name] = real_stats.load_or_compute(
          self.stats_dir, p, self.network(p.network), dataset=run_protocols.stats_dataset(self.config),
          split=split,
          frames=self.frames(p), stride=p.stride or int(self.config.data.stride),
          resolution=int(self.config.resolution), batch_size=self.batch_size, progress=self.real_progress,
          videos_fn=lambda: real_video_batches(self.config, split, self.batch_size, classes), log=self.log,
          labels=classes, should_stop=self.should_stop)
    return self._real[p.name]

  def cached_real_stats(self, protocol_name: str):
    """The real statistics of `protocol_name` if this scorer already loaded or computed them, else None."""
    return self._real.get(protocol_name)

  def fake_features(self, generator, protocol) -> dict:
    """{layer: FeatureStats} of the protocol's num_fake samples of `generator`."""
    p = run_protocols.check_protocol(self.config, protocol)
    net = self.network(p.network)
    meta = {"source": f"generator samples (eval.seed {self.seed})", "seed": self.seed}
    sample_fn = self._function(("sample", id(generator)), lambda: sample_function(
        generator, self.strategy if self.on_replicas else None))
    classes = []  # the class asked for, of every sample: the generated set carries its labels
    batches = sample_batches(sample_fn, self.config, p.num_fake, self.batch_size, self.seed, p.truncation,
                             classes=classes)
    return scoring.fake_features(p, batches, net, batch_size=self.batch_size, progress=self.progress,
                                 metadata=meta, labels=classes if int(self.config.num_classes) > 0 else None,
                                 should_stop=self.should_stop)

  def score(self, generator, protocol):
    """eval.scoring.ProtocolResult of `generator` under `protocol`."""
    p = run_protocols.check_protocol(self.config, protocol)
    if is_prediction(self.config):
      return self._score_prediction(generator, p)
    real = self.real_stats(p) if p.needs_real else None
    return scoring.score_features(p, self.fake_features(generator, p), real)

  def _score_prediction(self, generator, protocol):
    """DVD-GAN-FP: FVD of [conditioning; predicted] against [conditioning; true continuation] of the same
    clips, as mean +- std over `protocol.repeats` independent draws of `protocol.num_fake` clips
    (dvd_gan.evaluation.prediction.prediction_fvd)."""
    if protocol.metrics != ("fvd",):
      raise EvalError(f"frame-conditional runs are scored with FVD (fvd_k400); protocol {protocol.name} has "
                      f"{', '.join(protocol.metrics)}")
    total = int(self.config.num_frames) + int(self.config.data.num_conditioning_frames)
    if protocol.frames is not None and protocol.frames != total:
      raise EvalError(f"protocol {protocol.name} scores {protocol.frames} frames (conditioning + predicted); "
                      f"this run has {total}")
    split = run_protocols.real_split(self.config, protocol)
    out = prediction_eval.prediction_fvd(
        generator, self.config, split=split, num_videos=protocol.num_fake, num_draws=max(1, protocol.repeats),
        seed=self.seed, truncation=protocol.truncation, network=self.network(protocol.network),
        batch_size=self.batch_size, log=self.log, should_stop=self.should_stop)
    result = MetricResult(value=out["fvd_mean"], std=out["fvd_std"], draw_mean=out["fvd_mean"],
                          draws=list(out["fvd_draws"]), num_real=protocol.num_fake, num_fake=protocol.num_fake,
                          draw_kind=f"{out['num_draws']} draws of {out['num_videos']} clips")
    meta = {"protocol": protocol.name, "split": split, "network": out["network"], "frames": total}
    return ProtocolResult(protocol, {"fvd": result}, real=meta, fake=meta)

  def _function(self, key, make):
    """The tf.function of `key` = (kind, id(generator)), made once and reused while the same generator is
    scored (a new one per evaluation would re-trace G); one per kind is kept (a generator copied for each
    evaluation, e.g. with standing statistics, replaces the previous one's)."""
    kind = key[0]
    if kind not in self._functions or self._functions[kind][0] != key:
      self._functions[kind] = (key, make())
    return self._functions[kind][1]
