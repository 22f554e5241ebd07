"""Named protocols: the registry, `python -m eval protocols`, `score --protocol` equal to the individual commands
with the protocol's settings as flags, and real statistics cached once and refused when made differently."""
import dataclasses
import json
import re

import numpy as np
import pytest

from eval import api, cli, protocols, real_stats
from eval.errors import EvalError
from eval.protocols import Protocol, get_protocol, register_protocol
from tests.eval.conftest import TinyNetwork


class TinyK600(TinyNetwork):
  """The tiny stand-in network posing as the Kinetics-600 I3D (whose weights are not available here)."""
  name = "i3d-kinetics-600"


@pytest.fixture
def small_protocols():
  """Registers small copies of k600_fid_is and fvd_k400 (the paper's numbers of videos do not fit a test)."""
  added = [
      register_protocol(dataclasses.replace(get_protocol("k600_fid_is"), name="test_k600_small", num_fake=9,
                                            repeats=5, splits=3), replace=True),
      register_protocol(dataclasses.replace(get_protocol("fvd_k400"), name="test_fvd_small", num_fake=9,
                                            num_real=12, frames=5), replace=True),
  ]
  yield {p.name: p for p in added}
  for p in added:
    protocols._REGISTRY.pop(p.name, None)


@pytest.fixture
def run_with(monkeypatch, capsys):
  """`run_with(network, *args)` runs eval.cli.main in-process with `network` as every feature network."""

  def _run(network, *args):
    monkeypatch.setattr(api, "get_feature_network", lambda name, weights=None: network)
    code = cli.main(["eval", *args] + (["--noprogress"] if args[0] != "protocols" else []))
    out, err = capsys.readouterr()
    return code, out.strip().splitlines(), err.strip()
  return _run


@pytest.fixture
def video_dirs(tmp_path, make_videos):
  """real/ (12 videos of 6 frames, two .npy files) and fake/ (9 videos, one file each)."""
  (tmp_path / "real").mkdir()
  (tmp_path / "fake").mkdir()
  real, fake = make_videos(12, seed=1), make_videos(9, seed=2)
  np.save(tmp_path / "real" / "a.npy", real[:5])
  np.save(tmp_path / "real" / "b.npy", real[5:])
  for i, v in enumerate(fake):
    np.save(tmp_path / "fake" / f"{i}.npy", v)
  return tmp_path


def _last(lines, label):
  line = [x for x in lines if x.startswith(label + ": ")][-1]
  return float(line.split(": ")[1])


def test_protocols_command_lists_the_paper_protocols(run_with, tiny_network):
  """`python -m eval protocols` names every paper protocol with its network and numbers of videos."""
  code, lines, _ = run_with(tiny_network, "protocols")
  text = "\n".join(lines)
  assert code == 0
  for name in protocols.PAPER_PROTOCOLS:
    assert re.search(rf"^{name}: ", text, re.M), name
  assert "network i3d-kinetics-600: FID on avgpool, IS on logits" in text
  assert "fake: 10000 videos" in text and "truncation 0.44" in text


def test_registry_checks_names_and_layers():
  """A name taken by other settings, an unknown name and FVD+FID (two real layers) in one protocol are errors;
  registering the same protocol again is allowed."""
  p = get_protocol("fvd_k400")
  assert register_protocol(p) is p
  with pytest.raises(ValueError, match="already registered"):
    register_protocol(dataclasses.replace(p, num_fake=3))
  with pytest.raises(EvalError, match="unknown protocol 'nope'; known: .*fvd_k400"):
    get_protocol("nope")
  with pytest.raises(ValueError, match="several layers"):
    Protocol("x", "", "i3d-kinetics-400", ("fvd", "fid"), num_fake=4)
  assert get_protocol("k600_fid_is").layers == ("avgpool", "logits")
  assert get_protocol("k600_fid_is").real_layer == "avgpool" and not get_protocol("ucf101_is_c3d").needs_real


def test_k600_protocol_equals_fid_and_is_with_explicit_flags(run_with, video_dirs, small_protocols, tmp_path):
  """`score --protocol=` (FID + IS, one pass over the fake videos) gives the figures and the +- of `fid` and
  `is` run with the protocol's network, repeats and splits as flags."""
  net, d = TinyK600(), video_dirs
  code, lines, err = run_with(net, "score", "--protocol=test_k600_small", f"--real={d / 'real'}",
                              f"--fake={d / 'fake'}", f"--json={tmp_path / 's.json'}")
  assert code == 0, err
  assert lines[-2].startswith("test_k600_small/fid: ") and lines[-1].startswith("test_k600_small/is: ")
  code, fid_lines, _ = run_with(net, "fid", "--network=i3d-kinetics-600", f"--real={d / 'real'}",
                                f"--fake={d / 'fake'}", "--repeats=5")
  assert code == 0
  code, is_lines, _ = run_with(net, "is", "--network=i3d-kinetics-600", f"--fake={d / 'fake'}", "--splits=3")
  assert code == 0
  assert _last(lines, "test_k600_small/fid") == pytest.approx(_last(fid_lines, "FID"), abs=1e-4)
  assert _last(lines, "test_k600_small/is") == pytest.approx(_last(is_lines, "IS"), abs=1e-4)
  # The +- lines carry the same numbers (after their labels).
  assert lines[0].split(" mean +- std")[1] == fid_lines[-2].split(" mean +- std")[1]
  assert lines[1].split(" mean +- std")[1] == is_lines[-2].split(" mean +- std")[1]
  record = json.loads((tmp_path / "s.json").read_text())
  assert record["protocol"]["name"] == "test_k600_small" and record["results"]["fid"]["num_draws"] == 5


def test_fvd_protocol_fixes_frames_and_counts(run_with, video_dirs, small_protocols):
  """fvd_k400's settings (frames, numbers of real and fake videos) equal `fvd --frames --num_videos`; a flag the
  protocol fixes cannot be changed."""
  net, d = TinyNetwork(), video_dirs
  code, lines, err = run_with(net, "score", "--protocol=test_fvd_small", f"--real={d / 'real'}",
                              f"--fake={d / 'fake'}")
  assert code == 0, err
  code, ref, _ = run_with(net, "fvd", "--frames=5", f"--real={d / 'real'}", f"--fake={d / 'fake'}")
  assert _last(lines, "test_fvd_small/fvd") == pytest.approx(_last(ref, "FVD"), abs=1e-4)
  code, _, err = run_with(net, "score", "--protocol=test_fvd_small", "--frames=6", f"--real={d / 'real'}",
                          f"--fake={d / 'fake'}")
  assert code == 2 and err == "error: --frames=6: the protocol fixes frames = 5"


class CountingExtract:
  """Wraps eval.real_stats.extract_layers, counting the videos that go through the network."""

  def __init__(self, monkeypatch):
    self.videos = 0
    original = real_stats.extract_layers

    def counting(videos, *args, **kwargs):
      def counted():
        for item in videos:
          self.videos += 1
          yield item
      return original(counted(), *args, **kwargs)
    monkeypatch.setattr(real_stats, "extract_layers", counting)


def test_real_statistics_are_computed_once_and_refused_when_made_differently(monkeypatch, make_videos):
  """The first call extracts the real videos' features and saves them (here on TF's ram:// filesystem);
  the second loads them without running the network and gives the same statistics; a call that needs
  another stride, another weights file or another number of videos is refused, naming the difference."""
  counter = CountingExtract(monkeypatch)
  net = TinyNetwork()
  videos = make_videos(12, t=6, h=8, w=8, seed=3)
  p = dataclasses.replace(get_protocol("fvd_k400"), name="test_cache", num_real=10, frames=6)
  kwargs = dict(dataset="toy", split="test", frames=6, stride=1, resolution=8, videos_fn=lambda: videos)
  folder = "ram://i15_real_stats"
  first = real_stats.load_or_compute(folder, p, net, **kwargs)
  assert counter.videos == 10 and first.num_items == 10
  path = real_stats.stats_path(folder, p, "toy", "test", 6, 8)
  assert path.endswith("toy-test-test_cache-logits-6f-8px.npz")
  second = real_stats.load_or_compute(folder, p, net, **kwargs)
  assert counter.videos == 10  # nothing extracted again
  np.testing.assert_array_equal(second.mean, first.mean)
  np.testing.assert_array_equal(second.cov, first.cov)
  assert second.metadata["protocol"] == "test_cache" and second.metadata["num_requested"] == 10
  with pytest.raises(EvalError, match=r"refusing the real statistics .*stride: the file has 1, this evaluation "
                                      r"needs 2"):
    real_stats.load_or_compute(folder, p, net, **{**kwargs, "stride": 2})
  other = TinyNetwork()
  other.weights_sha256 = "1" * 64
  with pytest.raises(EvalError, match="weights_sha256"):
    real_stats.load_or_compute(folder, p, other, **kwargs)
  with pytest.raises(EvalError, match="num_requested: the file has 10, this evaluation needs 11"):
    real_stats.load_or_compute(folder, dataclasses.replace(p, num_real=11), net, **kwargs)
  assert counter.videos == 10


def test_score_reuses_stats_dir(run_with, video_dirs, small_protocols, monkeypatch):
  """`score --stats_dir` computes the real statistics once; a second call gives the same figure from them."""
  counter = CountingExtract(monkeypatch)
  net, d = TinyNetwork(), video_dirs
  args = ("score", "--protocol=test_fvd_small", f"--real={d / 'real'}", f"--fake={d / 'fake'}",
          f"--stats_dir={d / 'stats'}", "--dataset=toy")
  code, first, err = run_with(net, *args)
  assert code == 0, err
  assert counter.videos == 12 and len(list((d / "stats").glob("toy-test-test_fvd_small-*.npz"))) == 1
  code, second, _ = run_with(net, *args)
  assert code == 0 and counter.videos == 12 and first[-1] == second[-1]


def test_frechet_inf_protocol_needs_the_real_mean_and_cov_only():
  """A protocol scoring FVD_inf keeps the fake set's per-video features but needs only the real statistics'
  mean and covariance; adding KVD (per-video features of both sets) makes it need the real features too."""
  inf = Protocol("x", "", "i3d-kinetics-400", ("fvd_inf",), num_fake=4)
  assert inf.needs_features and not inf.needs_real_features
  assert Protocol("x", "", "i3d-kinetics-400", ("fvd_inf", "kvd"), num_fake=4).needs_real_features
