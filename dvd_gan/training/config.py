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
  t.ema_decay = 0.9999
  t.ema_start_step = 20_000      # before it, G_ema is a copy of G
  t.conditional = True           # num_classes = 0 in the config: take the dataset's class count (False: keep 0)
  # Platform.
  t.strategy = "default"         # "default" | "mirrored" | "multi_worker" | "tpu"
  t.tpu = ""                     # TPU name or "local"
  t.mixed_precision = "float32"  # "float32" | "bfloat16" (TPU) | "float16" (GPU, loss scaling)
  t.xla = False                  # jit_compile the per-replica D and G steps
  t.deterministic = False        # tf.config.experimental.enable_op_determinism() (bit-exact resume)
  # Checkpoints, logs, samples.
  t.keep_checkpoints = 3
  t.checkpoint_every = 1000      # G steps
  t.log_every = 50               # console progress line and scalar summaries
  t.sample_every = 1000          # sample grid (TensorBoard + PNG/GIF in workdir/samples)
  t.num_sample_videos = 16
  return t


def eval_config() -> ml_collections.ConfigDict:
  e = ml_collections.ConfigDict()
  e.num_videos = 256             # videos per set for the end-of-run FVD figures
  e.fvd_at_end = False           # compute FVD figures when training finishes (the tiny demo turns it on)
  e.network = "i3d-kinetics-400"
  e.weights = ""                 # "" = the eval package's default weights source
  e.batch_size = 8               # feature-extraction batch
  e.truncation = 1.0             # sigma of z for the evaluated samples (1.0 = no truncation)
  return e
