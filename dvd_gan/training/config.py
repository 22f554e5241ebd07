"""Train and eval sections of the config (owned by dvd_gan.training). See docs/training.md."""
import ml_collections


def train_config() -> ml_collections.ConfigDict:
  t = ml_collections.ConfigDict()
  # Schedule and optimisers (docs/paper.md, "Training"; appendix A.3).
  t.num_steps = 300_000          # G steps; each G step comes with d_steps_per_g_step D steps
  t.d_steps_per_g_step = 2
  t.g_lr = 1e-4
  t.d_lr = 5e-4
  t.beta1 = 0.0
  t.beta2 = 0.999
  t.lr_decay_steps = 0           # > 0: both learning rates fall linearly over the last N steps (lr_schedule.py)
  t.lr_decay_to = 0.0            # ... to this fraction of g_lr / d_lr
  t.d_sn_iterations = 1          # power iterations of D's spectral norms per D update (BigGAN's one call of D
                                 # on [real; fake]: 1; the G update's call of D makes 1; docs/training.md)
  t.ema_decay = 0.9999
  t.ema_start_step = 20_000      # before it, G_ema is a copy of G
  t.conditional = True           # num_classes = 0 in the config: take the dataset's class count (False: keep 0)
  # Platform.
  t.strategy = "default"         # "default" | "mirrored" | "multi_worker" | "tpu"
  t.tpu = ""                     # TPU name or "local"
  t.mixed_precision = "float32"  # "float32" | "bfloat16" (TPU) | "float16" (GPU, loss scaling)
  t.xla = False                  # jit_compile the per-replica D and G steps
  t.fused_adam = True            # one fused kernel per variable update (same result as Keras's Adam, fewer ops)
  t.deterministic = False        # tf.config.experimental.enable_op_determinism() (bit-exact resume)
  # Host threads (0 = TensorFlow's default, one per core). Many small ops (the tiny demo) run faster with 1
  # thread per op and the cores running independent ops side by side (docs/training.md, "Host threads").
  t.intra_op_threads = 0
  t.inter_op_threads = 0
  # Checkpoints, logs, samples.
  # G steps per tf.function call (host -> device round trip): 1 on CPU/GPU; more on TPU, where each call has a
  # fixed cost. log_every, checkpoint_every and sample_every must be multiples of it. SIGTERM (preemption)
  # is acted on at the end of a call: keep steps_per_loop x step time well below the platform's notice.
  t.steps_per_loop = 1
  t.keep_checkpoints = 3
  t.checkpoint_every = 1000      # G steps
  t.log_every = 50               # console progress line and scalar summaries
  t.sample_every = 1000          # sample grid (TensorBoard + PNG/GIF in workdir/samples)
  t.num_sample_videos = 16
  # Keys a resumed run may change although they change the run (shapes, data order, optimisation):
  # comma-separated, e.g. "batch_size,train.g_lr" (dvd_gan.training.config_changes; docs/training.md).
  t.allow_config_change = ""
  return t


def eval_config() -> ml_collections.ConfigDict:
  e = ml_collections.ConfigDict()
  # End-of-run demo figures (dvd_gan.evaluation.figures).
  e.num_videos = 256             # videos per set for the end-of-run FVD figures
  e.fvd_at_end = False           # compute FVD figures when training finishes (the tiny demo turns it on)
  e.network = "i3d-kinetics-400"
  e.weights = ""                 # "" = the eval package's default weights source
  e.batch_size = 8               # feature-extraction and sampling batch
  e.truncation = 1.0             # sigma of z for the end-of-run samples (protocols fix their own)
  # Standing statistics (BigGAN): the EMA generator samples with batch-norm statistics measured on itself
  # over this many training-mode batches of fresh z, y (0 = off: the moving statistics of training).
  # Used by the end-of-run figures, the evaluations and the export (dvd_gan/standing_stats.py).
  e.standing_stats_batches = 0
  e.standing_stats_batch_size = 16
  # Evaluation during training (dvd_gan.evaluation.periodic; docs/training.md "Evaluation during training")
  # and of a finished run (python -m dvd_gan.evaluate). Protocols are eval.protocols names.
  e.every_steps = 0              # the chief scores G_ema every N steps (0 = never); a multiple of
                                 # train.steps_per_loop, like log/checkpoint/sample_every
  e.protocols = ()               # protocols scored during training, e.g. ("k600_fid_is",)
  e.final_protocols = ()         # dvd_gan.evaluate's protocols; () = the dataset's paper protocols
  e.main_metric = ""             # "<protocol>/<metric>" deciding the best checkpoint and collapse;
                                 # "" = the main metric of the first of eval.protocols
  e.stats_dir = ""               # cached real statistics (local or gs://); "" = <workdir>/real_stats
  e.real_split = ""              # split of the real statistics; "" = the protocol's (for its own dataset),
                                 # else data.eval_split
  e.on_replicas = "auto"         # sample and extract features inside strategy.run on every replica:
                                 # "auto" (on TPU), "yes", "no" (the chief's default device: its GPU if any)
  e.seed = 1234                  # seed of the scored latents (the same z at every evaluation)
  e.keep_best = True             # keep the best checkpoint (main metric) in <workdir>/checkpoints_best
  # Weights of the protocols' networks ("" = eval's default source; the Kinetics-600 I3D and C3D have none).
  e.network_weights = ml_collections.ConfigDict(
      {"i3d_kinetics_400": "", "i3d_kinetics_600": "", "c3d_ucf101": ""})
  # Collapse detection (dvd_gan.evaluation.collapse): fires when the main metric is worse than its best by more
  # than `threshold` (relative) for `patience` evaluations in a row, or when D's real/fake margin (mean of
  # D(real) - D(fake), the smaller of DS and DT, since the previous evaluation) is >= margin_saturation for
  # `patience` evaluations in a row (0 = margin rule off).
  e.collapse = ml_collections.ConfigDict()
  e.collapse.enabled = True
  e.collapse.threshold = 0.25
  e.collapse.patience = 3
  e.collapse.margin_saturation = 0.0
  e.collapse.action = "stop"     # "stop": save and end the run; "continue": only log and record it
  return e


def check_schedule(t, eval_every: int = 0) -> int:
  """Returns train.steps_per_loop; ValueError (one line) unless log_every, checkpoint_every and sample_every
  (and `eval_every`, the config's eval.every_steps, when > 0) are positive multiples of it: they are acted on
  between calls of steps_per_loop steps."""
  spl = int(t.get("steps_per_loop", 1))
  if spl < 1:
    raise ValueError(f"train.steps_per_loop must be >= 1, got {spl}")
  for key in ("log_every", "checkpoint_every", "sample_every"):
    every = int(t[key])
    if every < 1 or every % spl:
      raise ValueError(f"train.{key} ({every}) must be a positive multiple of train.steps_per_loop ({spl})")
  if int(eval_every or 0) % spl:
    raise ValueError(f"eval.every_steps ({eval_every}) must be a multiple of train.steps_per_loop ({spl})")
  check_lr_decay(t)
  return spl


def check_lr_decay(t) -> None:
  """ValueError (one line) unless 0 <= train.lr_decay_steps <= train.num_steps and 0 <= lr_decay_to <= 1."""
  steps, num_steps = int(t.get("lr_decay_steps", 0)), int(t.num_steps)
  if not 0 <= steps <= num_steps:
    raise ValueError(f"train.lr_decay_steps must be in [0, train.num_steps = {num_steps}], got {steps}")
  final = float(t.get("lr_decay_to", 0.0))
  if not 0.0 <= final <= 1.0:
    raise ValueError(f"train.lr_decay_to must be in [0, 1], got {final}")
