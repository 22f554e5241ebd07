"""The command line's inputs and outputs: every video format in one directory, videos of different sizes,
single files and globs, frames cut from the start, TFDS datasets (mocked), the statistics-file metadata, and
the +- over repeated draws in the printed output and the JSON."""
import json
import re

import numpy as np
import pytest
import tensorflow_datasets as tfds

import eval as video_eval
from eval.stats import METADATA_KEYS, FeatureStats


def _figure(lines, label):
  assert re.fullmatch(rf"{label}: -?[0-9]+\.[0-9]+", lines[-1]), lines
  return float(lines[-1].split(": ")[1])


def _smooth_video(t, h, w, seed):
  """uint8 [t, h, w, 3]: a per-video colour, a horizontal gradient and a brightness ramp over time (smooth,
  so that lossy codecs keep the picture)."""
  rng = np.random.default_rng(seed)
  colour = rng.integers(60, 190, size=3)
  x = np.linspace(-30, 30, w)[None, None, :, None]
  ramp = np.arange(t)[:, None, None, None] * rng.integers(2, 6)
  return np.clip(colour + x + ramp + np.zeros([t, h, w, 3]), 0, 255).astype(np.uint8)


def _expected(net, videos, layer):
  """The network's features of each video alone, [N, D]."""
  return np.concatenate([net.features(v[None], layer).numpy() for v in videos])


def test_directory_of_every_format_with_mixed_sizes(run, tmp_path, writers, tiny_network):
  """A directory holding mp4, avi, webm, gif, .npy [T,H,W,3], .npy [N,T,H,W,3] and .npz videos of seven
  different sizes gives one feature row per video, in sorted file order, equal to the network's features of
  each original video (arrays to float precision; lossy codecs and GIF's palette to within their error)."""
  t = 6
  sizes = {"a.mp4": (16, 16), "b.avi": (24, 32), "c.webm": (32, 24), "d.gif": (20, 28), "e.npy": (10, 12),
           "f.npy": (12, 10), "g.npz": (16, 20)}
  videos, lossy = [], []
  src = tmp_path / "videos"
  src.mkdir()
  for i, (name, (h, w)) in enumerate(sizes.items()):
    if name == "f.npy":  # [N, T, H, W, 3]
      batch = np.stack([_smooth_video(t, h, w, 100 + i), _smooth_video(t, h, w, 200 + i)])
      np.save(src / name, batch)
      videos += list(batch)
      lossy += [False, False]
      continue
    video = _smooth_video(t, h, w, i)
    codec = {"a.mp4": "libx264", "b.avi": "mpeg4", "c.webm": "libvpx"}.get(name)
    if codec:
      writers["mp4"](src / name, video, codec=codec)
    elif name.endswith(".gif"):
      writers["gif"](src / name, video)
    elif name.endswith(".npy"):
      np.save(src / name, video)
    else:
      np.savez(src / name, clip=video)
    videos.append(video)
    lossy.append(codec is not None or name.endswith(".gif"))  # GIF: a 256-colour palette
  out = tmp_path / "f.npz"
  code, lines, err = run("features", f"--videos={src}", "--layer=avgpool", f"--out={out}")
  assert code == 0, err
  assert lines[-1].startswith("wrote features of 8 videos")
  stats = FeatureStats.load(str(out))
  assert stats.num_items == 8 and stats.metadata["resolution"] == "mixed"
  expected = _expected(tiny_network, videos, "avgpool")
  lossy = np.array(lossy)
  np.testing.assert_allclose(stats.features[~lossy], expected[~lossy], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(stats.features[lossy], expected[lossy], atol=0.03)
  # The lossy rows are close to their own video and far from every other one (the order is right).
  distance = np.abs(stats.features[:, None] - expected[None]).max(-1)
  assert np.all(np.argmin(distance, axis=1) == np.arange(8))


def test_single_file_and_glob(run, tmp_path, make_videos, writers, tiny_network):
  """A single .npy file of [N, T, H, W, 3] gives its N videos; a glob picks exactly the files it matches (the
  gif beside them is left out)."""
  a, b = make_videos(2, seed=1), make_videos(3, seed=2)
  np.save(tmp_path / "a.npy", a)
  np.save(tmp_path / "b.npy", b)
  writers["gif"](tmp_path / "c.gif", make_videos(1, seed=3)[0])
  code, _, err = run("features", f"--videos={tmp_path / 'b.npy'}", f"--out={tmp_path / 'one.npz'}")
  assert code == 0, err
  np.testing.assert_allclose(FeatureStats.load(str(tmp_path / "one.npz")).features,
                             _expected(tiny_network, b, "logits"), rtol=1e-5, atol=1e-5)
  code, _, err = run("features", f"--videos={tmp_path / '*.npy'}", f"--out={tmp_path / 'glob.npz'}")
  assert code == 0, err
  np.testing.assert_allclose(FeatureStats.load(str(tmp_path / "glob.npz")).features,
                             _expected(tiny_network, np.concatenate([a, b]), "logits"), rtol=1e-5, atol=1e-5)


def test_longer_videos_are_cut_to_their_first_frames(run, tmp_path, tiny_network):
  """--frames=T keeps the FIRST T frames of longer videos (features equal those of video[:T], not of the
  last or middle frames); with --stride=2 the frames 0, 2, ..., 2(T-1)."""
  videos = np.stack([_smooth_video(12, 10, 12, s) for s in range(3)])
  videos[:, :, :, :, 0] = np.arange(12)[None, :, None, None] * 20  # red channel: 0, 20, ..., 220 over time
  np.save(tmp_path / "v.npy", videos)
  for frames, stride, keep in ((5, 1, slice(0, 5)), (4, 2, slice(0, 7, 2))):
    out = tmp_path / f"f{frames}.npz"
    code, _, err = run("features", f"--videos={tmp_path / 'v.npy'}", f"--frames={frames}", f"--stride={stride}",
                       f"--out={out}", "--layer=avgpool")
    assert code == 0, err
    got = FeatureStats.load(str(out))
    np.testing.assert_allclose(got.features, _expected(tiny_network, videos[:, keep], "avgpool"),
                               rtol=1e-5, atol=1e-5)
    assert (got.metadata["frames"], got.metadata["stride"]) == (frames, stride)
    late = _expected(tiny_network, videos[:, -frames:], "avgpool")
    assert np.abs(got.features - late).max() > 0.1


def test_statistics_file_metadata(run, tmp_path, make_videos, tiny_network):
  """A `stats` file loads with allow_pickle=False and records network, weights sha256, layer, resolution,
  frames, stride, number of videos, dataset, split and package version, each with the value of the run; its
  mean and covariance are those of the features of the videos used."""
  videos = make_videos(5, t=9, h=10, w=12)
  np.save(tmp_path / "v.npy", videos)
  out = tmp_path / "s.npz"
  code, _, err = run("stats", f"--videos={tmp_path / 'v.npy'}", "--frames=4", "--stride=2", "--num_videos=4",
                     "--dataset=toy", "--split=test", f"--out={out}")
  assert code == 0, err
  with np.load(out, allow_pickle=False) as data:
    assert "features" not in data.files and data["sigma"].dtype == np.float64
  meta = FeatureStats.load(str(out)).metadata
  assert set(METADATA_KEYS) <= set(meta)
  expected = {"network": "i3d-kinetics-400", "weights_sha256": tiny_network.weights_sha256, "layer": "logits",
              "resolution": [10, 12], "frames": 4, "stride": 2, "num_videos": 4, "dataset": "toy",
              "split": "test", "version": video_eval.__version__}
  assert {k: meta[k] for k in METADATA_KEYS} == expected
  feats = _expected(tiny_network, videos[:4, 0:7:2], "logits").astype(np.float64)
  stats = FeatureStats.load(str(out))
  np.testing.assert_allclose(stats.mean, feats.mean(0), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(stats.cov, np.cov(feats, rowvar=False), rtol=1e-4, atol=1e-4)


def test_tfds_mock_ucf101_end_to_end(run, tmp_path, tiny_network):
  """`stats --tfds=ucf101:train` on tfds.testing.mock_data (random videos of 5 to 49 frames, 256x256) gives
  the statistics of the network's features of the first 5 frames of every example, with dataset and split in
  the metadata; that file then serves as --real of `fvd`, equal to fvd on the same videos saved as arrays."""
  with tfds.testing.mock_data(num_examples=3):
    code, _, err = run("stats", "--tfds=ucf101:train", "--frames=5", f"--out={tmp_path / 's.npz'}")
    assert code == 0, err
    examples = [ex["video"][:5] for ex in tfds.as_numpy(tfds.builder("ucf101").as_dataset(
        split="train", shuffle_files=False))]
  assert len(examples) == 3 and examples[0].shape == (5, 256, 256, 3)
  stats = FeatureStats.load(str(tmp_path / "s.npz"))
  assert (stats.metadata["dataset"], stats.metadata["split"], stats.num_items) == ("ucf101", "train", 3)
  assert stats.metadata["resolution"] == [256, 256] and stats.metadata["frames"] == 5
  feats = _expected(tiny_network, examples, "logits").astype(np.float64)
  np.testing.assert_allclose(stats.mean, feats.mean(0), rtol=1e-5, atol=1e-5)
  np.save(tmp_path / "real.npy", np.stack(examples))
  fake = np.stack(examples)[::-1] // 2
  np.save(tmp_path / "fake.npy", fake)
  from_stats = _figure(run("fvd", f"--real={tmp_path / 's.npz'}", f"--fake={tmp_path / 'fake.npy'}")[1], "FVD")
  from_arrays = _figure(run("fvd", f"--real={tmp_path / 'real.npy'}", f"--fake={tmp_path / 'fake.npy'}")[1],
                        "FVD")
  assert from_stats == pytest.approx(from_arrays, rel=1e-6) and from_stats > 0


def test_repeats_give_mean_and_std_over_draws_and_the_counts(run, tmp_path, make_videos):
  """`fvd --repeats=R` prints `FVD mean +- std over <draws>: m +- s (N real, M fake videos)` before the
  figure, and the JSON holds the R draws whose mean and std are m and s, and N, M. Draws of all M fake
  videos without replacement all equal the figure (std 0); bootstrap draws vary (std > 0)."""
  np.save(tmp_path / "real.npy", make_videos(12, seed=1))
  np.save(tmp_path / "fake.npy", make_videos(9, seed=2))
  base = (f"--real={tmp_path / 'real.npy'}", f"--fake={tmp_path / 'fake.npy'}")
  code, lines, err = run("fvd", *base, "--repeats=7", f"--json={tmp_path / 'b.json'}")
  assert code == 0, err
  record = json.loads((tmp_path / "b.json").read_text())
  draws = np.array(record["draws"])
  assert len(draws) == 7 and record["num_draws"] == 7
  assert (record["num_real"], record["num_fake"]) == (12, 9)
  assert record["draw_mean"] == pytest.approx(draws.mean()) and record["std"] == pytest.approx(draws.std())
  assert record["std"] > 0 and len(set(draws.round(8))) > 1
  assert lines[-2] == (f"FVD mean +- std over bootstrap: {draws.mean():.4f} +- {draws.std():.4f} "
                       "(12 real, 9 fake videos)")
  assert _figure(lines, "FVD") == pytest.approx(record["value"], abs=1e-4)
  code, lines, err = run("fvd", *base, "--draws=3", "--subset_size=9", f"--json={tmp_path / 's.json'}")
  assert code == 0, err
  record = json.loads((tmp_path / "s.json").read_text())
  np.testing.assert_allclose(record["draws"], [record["value"]] * 3, rtol=1e-9)
  assert record["std"] == pytest.approx(0, abs=1e-6) and "subsets of 9 without replacement" in lines[-2]
