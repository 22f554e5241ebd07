"""Backward compatibility: what runs and files written by older dvd_gan versions still need, in one place.

  Old config keys' defaults  A config written before a key existed (a run's config.json, a `.keras` file's
                             G config) means what the code did then: `OLD_DEFAULTS`, read with `get`.
                             model.g_block: "biggan_deep" (every G had BigGAN-deep blocks before the key);
                             eval.standing_stats_*: off (no standing statistics before them).
  The BigGAN-deep block      `dvd_gan.layers.BigGANDeepGBlock` was called `GBlock` when it was the only G
                             block, and Keras files carry that name: the registered name "dvd_gan>GBlock" of
                             a serialised block, and the weight paths of a `.keras` file, which Keras derives
                             from the class name of each block in G's list ("blocks/g_block_1/..."). The
                             class keeps `GBLOCK_FILE_NAME` as its Keras name (`keras_name`), so every file,
                             old or new, reads and writes the same names.
  Resuming an old run        `keep_run_generator`: a run resumes with the G block it was trained with.
  Older checkpoints          `model_object_checkpoint`: a checkpoint of the Keras model object (before models
                             were stored as `model_variables` dicts) is restored through the model itself.

This module imports no other part of dvd_gan at load time (the layers and models read it).
"""
G_BLOCK_BEFORE_KEY = "biggan_deep"  # what a config without model.g_block was built (and trained) with
GBLOCK_FILE_NAME = "GBlock"  # the BigGAN-deep block's class name in Keras files

# "<section>.<key>" -> the value a config without the key means.
OLD_DEFAULTS = {
    "model.g_block": G_BLOCK_BEFORE_KEY,
    "eval.standing_stats_batches": 0,
    "eval.standing_stats_batch_size": 16,
    "eval.truncation": 1.0,
}


def get(config, key: str):
  """`config.<section>.<key>`, or what a config written before the key existed means (`OLD_DEFAULTS`)."""
  section, name = key.split(".")
  return config[section].get(name, OLD_DEFAULTS[key])


def g_block(config) -> str:
  """`config.model.g_block`; a config without the key means "biggan_deep"."""
  return str(get(config, "model.g_block"))


def generator_config(config: dict) -> dict:
  """A Generator's `get_config()` dict as `from_config` takes it: without "block" (written before the key
  existed) it describes a BigGAN-deep G."""
  config = dict(config)
  config.setdefault("block", G_BLOCK_BEFORE_KEY)
  return config


def keras_name(cls):
  """Class decorator: gives the BigGAN-deep block its file-format name (module docstring) as `__name__`, the
  name Keras uses for registration, weight paths and automatic layer names; the Python name stays."""
  cls.__name__ = GBLOCK_FILE_NAME
  return cls


def keep_run_generator(config, workdir: str, log=print):
  """The config with the G block of the run being resumed in `workdir` (a copy when it changes).

  A run resumes with the generator it was trained with: when `workdir` holds a checkpoint and a config.json,
  that file's `model.g_block` replaces the given one (a config.json written before the key existed means
  "biggan_deep", the only block then), so an old run resumed with today's experiment file still restores.
  """
  from dvd_gan import run_folder  # noqa: PLC0415 - it imports the models, which import this module
  from dvd_gan.training import config_changes  # noqa: PLC0415 - it imports this module
  from eval import io as eio  # noqa: PLC0415 - with run_folder, above
  path = eio.join(workdir, run_folder.CONFIG_FILE)
  if not config_changes.is_resume(workdir):  # the one answer to "is this a resume", as the config check's
    return config
  stored = eio.read_json(path).get("model", {})
  block = stored.get("g_block", G_BLOCK_BEFORE_KEY)
  if block == config.model.get("g_block", G_BLOCK_BEFORE_KEY):
    return config
  why = "the key's default before it existed" if "g_block" not in stored else "its config.json"
  log(f"resuming a run trained with model.g_block={block!r} ({why}): using it instead of "
      f"{config.model.get('g_block')!r}")
  config = config.copy_and_resolve_references()
  config.model.g_block = block
  return config


def model_object_checkpoint(keys) -> bool:
  """Whether a checkpoint's G_ema keys (`G_ema/...`) are those of the Keras model object (older runs) rather
  than of `model_variables` ("G_ema/v0000_...")."""
  return not any(k.startswith("G_ema/v0000_") for k in keys)
