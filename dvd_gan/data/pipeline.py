"""`make_dataset`: per-replica batches of preprocessed clips for training and evaluation (docs/data.md).

Every dataset yields {"video": [b, T, H, W, 3] float32 in [-1, 1], "label": [b] int32} (plus "context":
[b, C, H, W, 3] when config.data.num_conditioning_frames = C > 0), T = config.num_frames, H = W =
config.resolution, b = the per-replica batch size. For prediction the clip holds C + T frames: the first C are
the context, the next T the frames to predict.

Distribution: with a `tf.distribute.InputContext` each input pipeline reads its own 1/num_input_pipelines of
the examples (`tfds.even_splits`), shuffles them with its own seed and draws its own random crops.
Determinism: every random choice (file order, shuffle, frame offset, crop) derives from `seed` (default
config.seed) and the input pipeline id through stateless ops.
"""
from typing import Dict, Optional, Tuple

import ml_collections
import tensorflow as tf

from dvd_gan.data import clip_builder
from dvd_gan.data import preprocessing
from dvd_gan.data import kinetics600
from dvd_gan.data import synthetic
from dvd_gan.data import video_folder
import tensorflow_datasets as tfds

DATASETS = ("synthetic", "ucf101", "bair_robot_pushing_small", "kinetics600", "video_folder")
_NUM_CLASSES = {"ucf101": 101, "kinetics600": 600, "bair_robot_pushing_small": 0}
BAIR_FRAMES = 30


def num_classes(config: ml_collections.ConfigDict) -> int:
  """Number of classes of the configured dataset (0: unconditional, e.g. BAIR)."""
  name = config.data.name
  if name == "synthetic":
    return synthetic.NUM_CLASSES
  if name == "video_folder":  # the folder's classes, set when the run resolves its config
    return len(config.data.get("class_names", ()) or ())
  if name not in _NUM_CLASSES:
    raise ValueError(f"config.data.name: unknown dataset {name!r}; expected one of {DATASETS}")
  return _NUM_CLASSES[name]


def per_replica_batch_size(config, input_context: Optional[tf.distribute.InputContext]) -> int:
  if input_context is None:
    return int(config.batch_size)
  return input_context.get_per_replica_batch_size(int(config.batch_size))


def _pipeline_id(input_context) -> Tuple[int, int]:
  if input_context is None:
    return 0, 1
  return input_context.input_pipeline_id, input_context.num_input_pipelines


def make_dataset(config: ml_collections.ConfigDict, *, split: str, training: bool,
                 input_context: Optional[tf.distribute.InputContext] = None,
                 seed: Optional[int] = None) -> tf.data.Dataset:
  """Batched, preprocessed clips of config.data.name (see the module docstring).

  Args:
    config: the top-level config (num_frames, resolution, batch_size, seed, data.*).
    split: dataset split, e.g. "train", "test", "validation" or a TFDS slice "train[:10%]".
    training: True: shuffled, infinite, random frame offsets and crops. False: one pass in file order, frame
      offset config.data.eval_frame_offset and centre crops.
    input_context: from `strategy.distribute_datasets_from_function`; None = a single pipeline.
    seed: overrides config.seed.

  Returns:
    tf.data.Dataset of per-replica batches: all full in training (the step's shapes are static); in
    evaluation the last batch of a finite split may be smaller, so that every video of the split is read (a
    folder's held-out split is scored whole, however few its videos).
  """
  d = config.data
  if d.name not in DATASETS:
    raise ValueError(f"config.data.name: unknown dataset {d.name!r}; expected one of {DATASETS}")
  num_frames, resolution = int(config.num_frames), int(config.resolution)
  num_context = int(d.num_conditioning_frames)
  stride = int(d.stride)
  if num_frames < 1 or resolution < 1 or stride < 1 or num_context < 0:
    raise ValueError(f"data pipeline: need num_frames >= 1, resolution >= 1, data.stride >= 1 and "
                     f"data.num_conditioning_frames >= 0; got {num_frames}, {resolution}, {stride}, {num_context}")
  batch_size = per_replica_batch_size(config, input_context)
  if batch_size < 1:
    raise ValueError(f"data pipeline: per-replica batch size is {batch_size} (batch_size {config.batch_size})")
  seed = int(config.seed if seed is None else seed)
  pipeline_id, num_pipelines = _pipeline_id(input_context)
  pipeline_seed = seed * num_pipelines + pipeline_id  # distinct per pipeline, = seed for a single pipeline

  total_frames = num_context + num_frames
  if d.name == "synthetic":
    ds = _synthetic(config, split, total_frames, resolution, pipeline_seed)
  else:
    ds = _tfds_clips(config, split=split, training=training, total_frames=total_frames,
                     resolution=resolution, stride=stride, pipeline_seed=pipeline_seed,
                     input_context=input_context)
  if num_context:
    ds = ds.map(lambda ex: _split_context(ex, num_context), num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.batch(batch_size, drop_remainder=training)
  ds = ds.prefetch(int(d.prefetch))
  options = tf.data.Options()
  options.deterministic = bool(d.deterministic)
  options.autotune.enabled = True
  options.experimental_optimization.map_parallelization = True
  return ds.with_options(options)


def _split_context(ex: Dict[str, tf.Tensor], num_context: int) -> Dict[str, tf.Tensor]:
  context, video = preprocessing.split_conditioning(ex["video"], num_context)
  return {"video": video, "context": context, "label": ex["label"]}


def _synthetic(config, split, total_frames, resolution, pipeline_seed) -> tf.data.Dataset:
  split = split.split("[")[0]
  return synthetic.synthetic_dataset(total_frames, resolution, seed=pipeline_seed, split=split,
                                     variant=config.data.get("synthetic_variant", "synthesis"))


# --- TFDS datasets --------------------------------------------------------------------------------------


def tfds_name(config) -> str:
  """"<dataset>/<builder config>" read for config.data (see data.tfds_config)."""
  d = config.data
  if d.name == "ucf101":
    return f"ucf101/{d.tfds_config or 'ucf101_1'}"
  if d.name == "kinetics600":
    if d.tfds_config:
      return f"kinetics600/{d.tfds_config}"
    fits = [r for r in kinetics600.RESOLUTIONS if r >= int(config.resolution)]
    return f"kinetics600/{kinetics600.config_name(fits[0] if fits else kinetics600.RESOLUTIONS[-1])}"
  return d.name if not d.tfds_config else f"{d.name}/{d.tfds_config}"


def _builder(config):
  if config.data.name == "video_folder":
    if not config.data.tfds_config:
      raise ValueError("data pipeline: video_folder needs data.tfds_config (set when the run prepares "
                       "data.videos: dvd_gan.data.video_folder.resolve_config)")
    return video_folder.load_builder(config.data.data_dir, config.data.tfds_config)
  name = tfds_name(config)
  try:
    return tfds.builder(name, data_dir=config.data.data_dir or None)
  except Exception as e:
    raise ValueError(f"data pipeline: cannot open TFDS dataset {name!r} in data_dir "
                     f"{config.data.data_dir or '(TFDS default)'}: {type(e).__name__}: {e}") from None


def _check_split(builder, split: str) -> None:
  base = split.split("[")[0]
  known = list(builder.info.splits.keys())
  if known and base not in known:
    raise ValueError(f"data pipeline: {builder.name} has no split {base!r}; available: {sorted(known)}")


def _decoded_bytes_estimate(config, builder, split: str, num_pipelines: int) -> Optional[int]:
  """Decoded uint8 bytes of this pipeline's shard (of the whole split: an upper bound for a slice), or None
  when unknown: BAIR from its fixed 30 x 64 x 64 clips, kinetics600 and video_folder from the size our
  builders recorded."""
  base = split.split("[")[0]
  if config.data.name == "bair_robot_pushing_small":
    try:
      total = builder.info.splits[base].num_examples * BAIR_FRAMES * 64 * 64 * 3
    except Exception:
      return None
  elif config.data.name in ("kinetics600", "video_folder"):
    total = clip_builder.decoded_size(builder, base)
    if total is None:
      return None
  else:
    return None
  return int(total / max(num_pipelines, 1))


def cache_decoded(config, builder, split: str, num_pipelines: int) -> bool:
  """Whether this pipeline caches its decoded clips in memory (config.data.cache, see data/config.py)."""
  d = config.data
  if d.cache not in ("auto", "memory", "none"):
    raise ValueError(f"config.data.cache must be 'auto', 'memory' or 'none', got {d.cache!r}")
  if d.cache != "auto":
    return d.cache == "memory"
  estimate = _decoded_bytes_estimate(config, builder, split, num_pipelines)
  return estimate is not None and estimate <= int(d.cache_max_bytes)


def _decode_frames(encoded: tf.Tensor) -> tf.Tensor:
  """[n] encoded JPEG/PNG frames -> [n, H, W, 3] uint8."""
  return tf.map_fn(lambda s: tf.io.decode_image(s, channels=3, expand_animations=False), encoded,
                   fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))


def _tfds_clips(config, *, split, training, total_frames, resolution, stride, pipeline_seed,
                input_context) -> tf.data.Dataset:
  """Unbatched {"video": [total_frames, S, S, 3] float32, "label": int32} from a TFDS dataset."""
  d = config.data
  builder = _builder(config)
  _check_split(builder, split)
  pipeline_id, num_pipelines = _pipeline_id(input_context)
  read_split = tfds.even_splits(split, n=num_pipelines)[pipeline_id] if num_pipelines > 1 else split
  span = preprocessing.frame_span(total_frames, stride)
  parallel = int(d.num_parallel_calls)
  bair = d.name == "bair_robot_pushing_small"

  cache = cache_decoded(config, builder, split, num_pipelines)

  # Video datasets: frames stay encoded until the clip's frames are chosen (only those are decoded),
  # unless the decoded clips are cached.
  decoders = None if (bair or cache) else {"video": tfds.decode.SkipDecoding()}
  read_config = tfds.ReadConfig(shuffle_seed=pipeline_seed, try_autocache=False)
  try:
    ds = builder.as_dataset(split=read_split, shuffle_files=training, decoders=decoders,
                            read_config=read_config)
  except AssertionError as e:  # TFDS: "Dataset ... not found" when the data was never prepared
    raise ValueError(f"data pipeline: {builder.name} is not prepared in {builder.data_dir}; run "
                     f"download_and_prepare first (docs/data.md): {e}") from None

  def standardise(ex):
    if bair:
      frames = ex[d.bair_camera]
      label = tf.zeros([], tf.int32)
    else:
      frames = ex["video"]
      label = tf.cast(ex["label"], tf.int32)
    return {"frames": frames, "label": label}

  ds = ds.map(standardise, num_parallel_calls=parallel)
  ds = ds.filter(lambda ex: tf.shape(ex["frames"])[0] >= span)  # clips too short for T frames at this stride
  if cache:
    ds = ds.cache()
  if training:
    ds = ds.shuffle(int(d.shuffle_buffer), seed=pipeline_seed, reshuffle_each_iteration=True).repeat()
  encoded = decoders is not None

  def preprocess(index, ex):
    frames = ex["frames"]
    if training:
      seeds = tf.random.experimental.stateless_split(
          tf.stack([tf.constant(pipeline_seed, tf.int64), tf.cast(index, tf.int64)]), 2)
      time_seed, space_seed = seeds[0], seeds[1]
    else:
      time_seed = space_seed = None
    indices = preprocessing.sample_frame_indices(tf.shape(frames)[0], total_frames, stride, time_seed,
                                                 int(d.eval_frame_offset))
    frames = tf.gather(frames, indices)
    if encoded:
      frames = _decode_frames(frames)
    video = preprocessing.spatial_preprocess(frames, resolution, space_seed)
    video = tf.ensure_shape(video, [total_frames, resolution, resolution, 3])
    return {"video": video, "label": ex["label"]}

  ds = ds.enumerate().map(preprocess, num_parallel_calls=parallel, deterministic=bool(d.deterministic))
  return ds
