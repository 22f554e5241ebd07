"""What may change when a run resumes: the new config against the run's config.json, and config.json's history.

A run resumes (its workdir holds a checkpoint and a config.json) with the config it was started with, except
for keys that only say how long it runs, how often it logs, samples, saves and evaluates, and how the same
computation is executed. Three explicit lists decide:

  RUN_KEYS       change shapes, the data order or the optimisation (the model, the data, the batch, the
                 learning rates, the seed, ...): a change ends the resume with ONE line `UserError` naming
                 each changed key and its two values, unless the key is listed in `train.allow_config_change`
                 (comma-separated keys, e.g. --config.train.allow_config_change=batch_size,train.g_lr).
  SCHEDULE_KEYS  the schedule and the execution (num_steps, intervals, evaluations, threads, XLA, ...):
                 accepted; one line lists the changes.
  Any other key (a key this module does not know) counts as a RUN_KEY: the safe side.

A key missing from the stored config.json (written before the key existed) means what the code did then:
`dvd_gan.legacy.OLD_DEFAULTS` where listed, else today's default (base_config()); a key the new config no
longer has is compared as "(absent)".

A video folder (data.name "video_folder") is prepared while the config is resolved, before check_resume can
compare it: `check_folder_resume` runs first and refuses a resume whose folder changed (its prepared
dataset's name, data.tfds_config, would differ) in the same one line, before anything is decoded.

config.json keeps its history: when the config written at the start of a run differs from the file already
there (in any key, also one added since), the earlier file is first copied to `config.<N>.json` beside it
(N = 1, 2, ... in order), never overwritten.
"""
import json

from dvd_gan import legacy
from dvd_gan.errors import UserError
from eval import io as eio
from eval.errors import one_line

CONFIG_FILE = "config.json"
ALLOW_KEY = "train.allow_config_change"
ABSENT = "(absent)"

RUN_KEYS = (
    "seed", "num_frames", "resolution", "num_classes", "batch_size",
    # model.* but remat (which recomputes the same activations).
    "model.z_dim", "model.embed_dim", "model.g_ch", "model.g_multipliers", "model.g_rnn", "model.g_block",
    "model.g_blocks_per_stage", "model.g_rnn_attention", "model.g_separable_attention_blocks",
    "model.g_bn_momentum", "model.d_ch", "model.ds_multipliers", "model.dt_multipliers", "model.ds_k",
    "model.ds_attention_blocks", "model.dt_phi", "model.dt_num_3d_blocks", "model.dt_downsample_time",
    "model.dt_attention_blocks", "model.cond_ch", "model.cond_multipliers", "model.fp_unet_skips",
    # The training data and its order.
    "data.name", "data.split", "data.stride", "data.tfds_config", "data.num_conditioning_frames",
    "data.synthetic_variant", "data.bair_camera", "data.shuffle_buffer", "data.deterministic",
    "data.videos", "data.labels", "data.class_names",
    # The optimisation; the strategy decides how the batch is split into per-replica input pipelines.
    "train.d_steps_per_g_step", "train.d_sn_iterations", "train.g_lr", "train.d_lr", "train.beta1", "train.beta2",
    "train.lr_decay_steps", "train.lr_decay_to", "train.ema_decay",
    "train.ema_start_step", "train.conditional", "train.mixed_precision", "train.fused_adam", "train.strategy",
)

SCHEDULE_KEYS = (
    "train.num_steps", "train.log_every", "train.checkpoint_every", "train.sample_every",
    "train.num_sample_videos", "train.keep_checkpoints", "train.steps_per_loop", "train.intra_op_threads",
    "train.inter_op_threads", "train.tpu", "train.xla", "train.deterministic", ALLOW_KEY,
    "model.remat",
    # Where and how fast the same examples are read (every random choice derives from the seed).
    "data.data_dir", "data.num_parallel_calls", "data.prefetch", "data.cache", "data.cache_max_bytes",
    "data.prepare_workers",
    # The evaluation split and offset: scoring and DVD-GAN-FP's sample contexts, not training.
    "data.eval_split", "data.eval_frame_offset",
    "eval.num_videos", "eval.fvd_at_end", "eval.network", "eval.weights", "eval.batch_size", "eval.truncation",
    "eval.standing_stats_batches", "eval.standing_stats_batch_size", "eval.every_steps", "eval.protocols",
    "eval.final_protocols", "eval.main_metric", "eval.stats_dir", "eval.real_split", "eval.on_replicas",
    "eval.seed", "eval.keep_best", "eval.network_weights.i3d_kinetics_400",
    "eval.network_weights.i3d_kinetics_600", "eval.network_weights.c3d_ucf101", "eval.collapse.enabled",
    "eval.collapse.threshold", "eval.collapse.patience", "eval.collapse.margin_saturation",
    "eval.collapse.action",
)


def flatten(tree: dict, prefix: str = "") -> dict:
  """{"model.g_ch": 4, ...} of a nested config dict, values as JSON gives them back (tuples as lists)."""
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      out.update(flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = value
  return out


def _as_json(config) -> dict:
  tree = config.to_dict() if hasattr(config, "to_dict") else config
  return json.loads(json.dumps(tree, default=eio.json_default))  # as config.json is written (eio.write_json)


def _defaults() -> dict:
  from dvd_gan.config import base_config  # noqa: PLC0415 - dvd_gan.config imports the training config module
  return flatten(_as_json(base_config()))


def allowed_keys(config) -> list:
  """The keys of `train.allow_config_change` (comma-separated; spaces ignored)."""
  text = str(config.train.get("allow_config_change", "") or "")
  return [k.strip() for k in text.split(",") if k.strip()]


def changes(stored: dict, new: dict) -> list:
  """[(key, stored value, new value)] of every key whose value differs, keys in order (module docstring for
  keys missing on one side)."""
  old, now = flatten(stored), flatten(new)
  defaults = None
  out = []
  for key in sorted(set(old) | set(now)):
    if key in old:
      before = old[key]
    elif key in legacy.OLD_DEFAULTS:
      before = json.loads(json.dumps(legacy.OLD_DEFAULTS[key]))
    else:
      defaults = _defaults() if defaults is None else defaults
      before = defaults.get(key, ABSENT)
    after = now.get(key, ABSENT)
    if before != after:
      out.append((key, before, after))
  return out


def _shown(changed) -> str:
  return ", ".join(f"{k} {json.dumps(a)} -> {json.dumps(b)}" for k, a, b in changed)


def is_resume(workdir: str) -> bool:
  """Whether `workdir` holds a run to resume: checkpoint files (found by their names, as the resume finds them
  when the state file is unreadable) and a config.json."""
  from dvd_gan.training import checkpointing  # noqa: PLC0415 - it imports TensorFlow; the rest reads JSON only
  directory = checkpointing.checkpoint_dir(workdir)
  try:
    return eio.isfile(eio.join(workdir, CONFIG_FILE)) and bool(checkpointing.checkpoint_numbers(directory))
  except eio.io_errors() as e:  # "no run here" would start at step 0 over the stored one
    raise checkpointing.unreadable(directory, e) from None


FOLDER_KEYS = ("data.videos", "data.labels", "data.tfds_config")  # known before the folder is prepared


def check_folder_resume(config, workdir: str) -> None:
  """For an unresolved video_folder config resuming a run: check_resume's refusal of FOLDER_KEYS, with
  data.tfds_config the name the folder would be prepared under (the folder is scanned, not decoded)."""
  d = config.data
  if d.get("name") != "video_folder" or d.get("tfds_config", "") or not d.get("videos", ""):
    return
  if not is_resume(workdir):
    return
  from dvd_gan import data as data_lib  # noqa: PLC0415 - the folder scan loads TensorFlow Datasets
  planned = config.copy_and_resolve_references()
  planned.data.tfds_config = data_lib.video_folder_name(config)
  check_resume(planned, workdir, keys=FOLDER_KEYS)


def check_resume(config, workdir: str, log=print, keys=None) -> list:
  """Compares `config` (resolved) with the config.json of the run in `workdir` when it resumes one.

  Raises UserError (one line) naming every changed key of RUN_KEYS (or unknown) not listed in
  train.allow_config_change, with both values; else logs one line with the accepted changes (when there are
  any) and returns them as [(key, stored, new)]. A fresh workdir: nothing to compare, []. `keys`: compare
  only these (nothing is logged).
  """
  allowed = allowed_keys(config)
  new = _as_json(config)
  known = set(flatten(new))
  unknown = [k for k in allowed if k not in known]
  if unknown:
    raise UserError(f"{ALLOW_KEY} names keys the config does not have: {', '.join(unknown)}")
  if not is_resume(workdir):
    return []
  path = eio.join(workdir, CONFIG_FILE)
  try:
    stored = eio.read_json(path)
  except (ValueError, *eio.io_errors()) as e:
    raise UserError(f"cannot read {path} of the run to resume: {one_line(e)}") from None
  changed = changes(stored, new)
  if keys is not None:
    changed = [c for c in changed if c[0] in keys]
  refused = [c for c in changed if c[0] not in SCHEDULE_KEYS and c[0] not in allowed]
  if refused:
    names = ",".join(k for k, _, _ in refused)
    raise UserError(
        f"the config changes the run being resumed in {workdir} (its {CONFIG_FILE}): {_shown(refused)}; resume "
        f"with the run's values, use another workdir, or accept them with --config.{ALLOW_KEY}={names}")
  if changed and keys is None:
    schedule = [c for c in changed if c[0] in SCHEDULE_KEYS]
    accepted = [c for c in changed if c[0] not in SCHEDULE_KEYS]
    parts = ([f"schedule {_shown(schedule)}"] if schedule else []) + (
        [f"allowed by {ALLOW_KEY}: {_shown(accepted)}"] if accepted else [])
    log(f"resuming with config changes: {'; '.join(parts)}")
  return changed


def write_config(workdir: str, config, log=print) -> str:
  """Writes `<workdir>/config.json`; an earlier, different config.json is first copied to the next free
  `config.<N>.json` (the history; never overwritten). Returns the path written."""
  path = eio.join(workdir, CONFIG_FILE)
  tree = config.to_dict() if hasattr(config, "to_dict") else config
  if eio.isfile(path):
    try:
      stored = eio.read_json(path)
    except ValueError:  # an unreadable file is still history
      stored = None
    if stored != _as_json(tree):
      n = 1
      while eio.exists(eio.join(workdir, f"config.{n}.json")):
        n += 1
      kept = eio.join(workdir, f"config.{n}.json")
      eio.write_bytes(kept, eio.read_bytes(path))
      log(f"earlier {CONFIG_FILE} kept as {kept}")
  return eio.write_json(path, tree)
