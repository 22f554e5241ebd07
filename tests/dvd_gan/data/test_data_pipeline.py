"""make_dataset end to end on mocked TFDS data (ucf101, bair_robot_pushing_small) and on the synthetic set."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from dvd_gan.config import base_config
from dvd_gan.data import make_dataset, num_classes, synthetic

FRAME_STEP = 8  # frame k of a mocked clip is a constant image of value FRAME_STEP * k


def _config(name, *, num_frames, resolution, stride, batch_size, context=0):
  c = base_config()
  c.num_frames, c.resolution, c.batch_size, c.seed = num_frames, resolution, batch_size, 5
  c.data.name, c.data.stride, c.data.num_conditioning_frames = name, stride, context
  c.data.shuffle_buffer = 8
  return c


def _clip(n, h, w):
  return np.broadcast_to((np.arange(n) * FRAME_STEP).astype(np.uint8)[:, None, None, None], (n, h, w, 3)).copy()


def _frame_ids(video):
  """[..., T, H, W, 3] in [-1, 1] -> [..., T] frame numbers (frames are constant images)."""
  return np.round((video[..., 0, 0, 0] + 1.0) * 127.5 / FRAME_STEP).astype(int)


def _ucf_as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False):
  """Mock of ucf101's _as_dataset: 6 clips of different lengths and sizes, frames JPEG-encoded."""
  del self, split, read_config, shuffle_files
  shapes = [(20, 24, 32), (25, 32, 24), (6, 24, 24), (30, 20, 40), (18, 28, 28), (22, 40, 20)]
  labels = [3, 100, 7, 0, 55, 12]

  def gen():
    for (n, h, w), label in zip(shapes, labels):
      yield {"video": [tf.io.encode_jpeg(f, quality=100).numpy() for f in _clip(n, h, w)], "label": label}

  assert decoders is not None, "the ucf101 pipeline should skip decoding and decode only the chosen frames"
  return tf.data.Dataset.from_generator(gen, output_signature={
      "video": tf.TensorSpec([None], tf.string), "label": tf.TensorSpec([], tf.int64)})


def _bair_as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False):
  """Mock of bair_robot_pushing_small's _as_dataset: 4 decoded 30-frame clips of numbered frames."""
  del self, split, decoders, read_config, shuffle_files
  n = 4
  clip = _clip(30, 64, 64)
  return tf.data.Dataset.from_tensor_slices({
      "image_main": np.stack([clip] * n), "image_aux1": np.zeros([n, 30, 64, 64, 3], np.uint8),
      "action": np.zeros([n, 30, 4], np.float32), "endeffector_pos": np.zeros([n, 30, 3], np.float32)})


def test_ucf101_shapes_range_stride_and_labels():
  """UCF-101 training batches: [b, T, S, S, 3] float32 in [-1, 1], int32 labels from the data, frames taken
  every `stride` frames in a contiguous run; clips shorter than the span are dropped."""
  c = _config("ucf101", num_frames=4, resolution=16, stride=3, batch_size=2)
  with tfds.testing.mock_data(as_dataset_fn=_ucf_as_dataset):
    ds = make_dataset(c, split="train", training=True)
    batches = list(ds.take(10).as_numpy_iterator())
  for b in batches:
    assert b["video"].shape == (2, 4, 16, 16, 3) and b["video"].dtype == np.float32
    assert b["label"].dtype == np.int32 and b["label"].shape == (2,)
    assert b["video"].min() >= -1.0 and b["video"].max() <= 1.0
    ids = _frame_ids(b["video"])
    np.testing.assert_array_equal(np.diff(ids, axis=1), 3)
    assert "context" not in b
  labels = np.concatenate([b["label"] for b in batches])
  assert set(labels) <= {3, 100, 0, 55, 12} and 7 not in labels  # the 6-frame clip (label 7) is too short
  starts = np.concatenate([_frame_ids(b["video"])[:, 0] for b in batches])
  assert len(set(starts)) > 3, "frame offsets are not random"
  assert num_classes(c) == 101


def test_ucf101_eval_is_fixed_and_finite():
  """Evaluation: one pass (6 clips -> 3 batches of 2), frames from eval_frame_offset on, identical on re-run."""
  c = _config("ucf101", num_frames=4, resolution=16, stride=1, batch_size=2)
  c.data.eval_frame_offset = 2
  with tfds.testing.mock_data(as_dataset_fn=_ucf_as_dataset):
    first = list(make_dataset(c, split="test", training=False).as_numpy_iterator())
    second = list(make_dataset(c, split="test", training=False).as_numpy_iterator())
  assert len(first) == 3
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a["video"], b["video"])
    np.testing.assert_array_equal(_frame_ids(a["video"]), [[2, 3, 4, 5]] * 2)


def test_bair_conditioning_split():
  """BAIR prediction: context = 1 frame, video = the next 15 contiguous frames (stride 1), 64x64, label 0."""
  c = _config("bair_robot_pushing_small", num_frames=15, resolution=64, stride=1, batch_size=2, context=1)
  with tfds.testing.mock_data(as_dataset_fn=_bair_as_dataset):
    batches = list(make_dataset(c, split="train", training=True).take(4).as_numpy_iterator())
  for b in batches:
    assert b["video"].shape == (2, 15, 64, 64, 3) and b["context"].shape == (2, 1, 64, 64, 3)
    ids = np.concatenate([_frame_ids(b["context"]), _frame_ids(b["video"])], axis=1)
    np.testing.assert_array_equal(np.diff(ids, axis=1), 1)
    assert ids.max() < 30
    np.testing.assert_array_equal(b["label"], [0, 0])
    assert b["label"].dtype == np.int32
  assert num_classes(c) == 0


def test_kinetics_prediction_conditioning_split():
  """Kinetics prediction: context = 5 frames, video = the next 11 frames, all 16 contiguous (stride 1), with
  the clip's label (the kinetics600 builder mocked with numbered-frame clips)."""
  c = _config("kinetics600", num_frames=11, resolution=16, stride=1, batch_size=2, context=5)
  c.data.tfds_config = "64"
  with tfds.testing.mock_data(as_dataset_fn=_ucf_as_dataset):
    batches = list(make_dataset(c, split="train", training=True).take(5).as_numpy_iterator())
  for b in batches:
    assert b["video"].shape == (2, 11, 16, 16, 3) and b["context"].shape == (2, 5, 16, 16, 3)
    ids = np.concatenate([_frame_ids(b["context"]), _frame_ids(b["video"])], axis=1)
    np.testing.assert_array_equal(np.diff(ids, axis=1), 1)
    assert set(b["label"]) <= {3, 100, 0, 55, 12}  # clips with >= 16 frames only
  assert num_classes(c) == 600


@pytest.mark.parametrize("cache,max_reads", [("memory", 1), ("none", None)])
def test_cache_reads_source_once(cache, max_reads):
  """cache="memory": the decoded clips are read from the source once and then served from memory for every
  epoch; cache="none": the source is read again each epoch."""
  reads = []

  def as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False):
    del self, split, decoders, read_config, shuffle_files

    def gen():
      reads.append(1)
      for n in (12, 14, 16):
        yield {"video": _clip(n, 8, 8), "label": n}

    return tf.data.Dataset.from_generator(gen, output_signature={
        "video": tf.TensorSpec([None, 8, 8, 3], tf.uint8), "label": tf.TensorSpec([], tf.int64)})

  c = _config("bair_robot_pushing_small", num_frames=4, resolution=8, stride=1, batch_size=3)
  c.data.cache = cache
  c.data.bair_camera = "video"  # the mocked clips' key
  with tfds.testing.mock_data(as_dataset_fn=as_dataset):
    batches = list(make_dataset(c, split="train", training=True).take(6).as_numpy_iterator())
  assert len(batches) == 6  # 18 clips = 6 epochs of 3
  if max_reads:
    assert len(reads) == max_reads
  else:
    assert len(reads) >= 5


def test_bair_auto_mock_end_to_end():
  """With TFDS's own random mock of bair_robot_pushing_small the pipeline runs and values stay in [-1, 1]."""
  c = _config("bair_robot_pushing_small", num_frames=15, resolution=32, stride=1, batch_size=2, context=1)
  with tfds.testing.mock_data(num_examples=3):
    b = next(make_dataset(c, split="train", training=True).as_numpy_iterator())
  assert b["video"].shape == (2, 15, 32, 32, 3) and b["context"].shape == (2, 1, 32, 32, 3)
  assert -1.0 <= b["video"].min() and b["video"].max() <= 1.0 and b["video"].std() > 0.1


def test_deterministic_given_seed_and_distinct_per_replica():
  """Same seed -> same batches; another seed or another input pipeline -> different batches; the
  per-replica batch is the global batch divided by the number of replicas."""
  c = _config("ucf101", num_frames=3, resolution=8, stride=1, batch_size=4)

  def first_batches(seed=None, ctx=None):
    return list(make_dataset(c, split="train", training=True, seed=seed, input_context=ctx)
                .take(3).as_numpy_iterator())

  with tfds.testing.mock_data(as_dataset_fn=_ucf_as_dataset):
    a, b, other = first_batches(), first_batches(), first_batches(seed=6)
    ctx = [tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i, num_replicas_in_sync=2)
           for i in range(2)]
    r0, r1 = first_batches(ctx=ctx[0]), first_batches(ctx=ctx[1])
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x["video"], y["video"])
  assert any(not np.array_equal(x["video"], y["video"]) for x, y in zip(a, other))
  assert r0[0]["video"].shape[0] == 2
  assert any(not np.array_equal(x["video"], y["video"]) for x, y in zip(r0, r1))


def test_synthetic_dispatch_with_context():
  """data.name = "synthetic" goes through synthetic.synthetic_dataset: batched, C + T frames split."""
  c = _config("synthetic", num_frames=3, resolution=8, stride=1, batch_size=2, context=2)
  b = next(make_dataset(c, split="train", training=True).as_numpy_iterator())
  assert b["video"].shape == (2, 3, 8, 8, 3) and b["context"].shape == (2, 2, 8, 8, 3)
  assert b["label"].dtype == np.int32
  assert num_classes(c) == synthetic.NUM_CLASSES


def test_distribute_datasets_from_function(mirrored_strategy):
  """Under MirroredStrategy on 2 devices, each replica receives batch_size / 2 clips."""
  c = _config("ucf101", num_frames=3, resolution=8, stride=1, batch_size=4)
  strategy = mirrored_strategy()
  with tfds.testing.mock_data(as_dataset_fn=_ucf_as_dataset):
    dist = strategy.distribute_datasets_from_function(
        lambda ctx: make_dataset(c, split="train", training=True, input_context=ctx))
    batch = next(iter(dist))
  shapes = [v.shape for v in strategy.experimental_local_results(batch["video"])]
  assert shapes == [(2, 3, 8, 8, 3)] * 2


@pytest.mark.parametrize("field,value,match", [
    ("name", "kinetics700", "unknown dataset"), ("stride", 0, "stride"), ("cache", "disk", "cache")])
def test_bad_config_one_line_error(field, value, match):
  """Invalid data options raise a ValueError naming the problem."""
  c = _config("ucf101", num_frames=3, resolution=8, stride=1, batch_size=2)
  c.data[field] = value
  with tfds.testing.mock_data(as_dataset_fn=_ucf_as_dataset):
    with pytest.raises(ValueError, match=match):
      make_dataset(c, split="train", training=True)
