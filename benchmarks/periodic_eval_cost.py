"""Cost of the demo's evaluation during training (experiments/tiny.py: demo_fvd every eval.every_steps).

    python benchmarks/periodic_eval_cost.py [--repeats=2] [--json=benchmarks/results/periodic_eval.json]

Times, with the genuine Kinetics-400 I3D and the tiny config's generator (untrained: the cost does not depend
on the weights): the real statistics of the protocol (computed once per run, then cached), one evaluation
(sampling num_fake videos + I3D features + FVD against the cached statistics; best of --repeats after a
warm-up evaluation that traces G and I3D), and the bare I3D forward on the same number of videos (the floor).
Prints a table and the demo's added time: evaluations x one evaluation + the real statistics once, minus the
end-of-run reference set those statistics replace. Writes the figures as JSON.
"""
import os
import resource
import sys
import tempfile
import time

import numpy as np
from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from dvd_gan import experiments  # noqa: E402
from dvd_gan.evaluation import scorer as generator_scoring  # noqa: E402
from dvd_gan.models.build import build_models  # noqa: E402
from dvd_gan.training.loop import resolve_config  # noqa: E402
from eval import command, io  # noqa: E402
from eval.features import extract_layers  # noqa: E402
from eval.protocols import get_protocol  # noqa: E402


def define_flags(fv, argv):
  del argv
  flags.DEFINE_integer("repeats", 2, "Timed evaluations (best of).", lower_bound=1, flag_values=fv)
  flags.DEFINE_string("json", os.path.join(REPO, "benchmarks", "results", "periodic_eval.json"),
                      "Output JSON.", flag_values=fv)


class _Timer:
  """Wall and CPU seconds (all threads of this process) of a block: the CPU figure does not depend on the
  other jobs sharing the machine, the wall figure does."""

  def __enter__(self):
    self.wall, self.cpu = time.perf_counter(), self._cpu()
    return self

  def __exit__(self, *exc):
    self.wall, self.cpu = time.perf_counter() - self.wall, self._cpu() - self.cpu

  @staticmethod
  def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _load_tiny():
  return experiments.load("tiny")


def body(fv, args):
  del args
  config = resolve_config(_load_tiny())
  protocol = get_protocol(config.eval.protocols[0])
  generator = build_models(config)[0]
  load_before = os.getloadavg()[0]
  with tempfile.TemporaryDirectory() as stats_dir:
    scorer = generator_scoring.GeneratorScorer(config, stats_dir=stats_dir, log=lambda s: None)
    with _Timer() as build:
      net = scorer.network(protocol.network)
    with _Timer() as real:
      scorer.real_stats(protocol)
    with _Timer() as warm:
      scorer.score(generator, protocol)  # warm-up: traces G's sampling function
    evals = []
    for _ in range(fv.repeats):
      with _Timer() as one_eval:
        value = scorer.score(generator, protocol).values()
      evals.append(one_eval)
    videos = np.random.default_rng(0).integers(0, 256, [protocol.num_fake, int(config.num_frames),
                                                       int(config.resolution), int(config.resolution), 3],
                                               dtype=np.uint8)
    with _Timer() as bare:
      extract_layers(videos, net, ("logits",), batch_size=int(config.eval.batch_size), progress=False)
  n_evals = int(config.train.num_steps) // int(config.eval.every_steps)
  one = min(evals, key=lambda t: t.wall)
  reused = protocol.num_real == int(config.eval.num_videos)  # the end-of-run figures reuse the statistics

  def added(attr):
    return (n_evals * getattr(one, attr) + getattr(warm, attr) - getattr(one, attr)
            + (0.0 if reused else getattr(real, attr)))

  rows = [
      ("I3D network build", build.wall, build.cpu),
      (f"real statistics, {protocol.num_real} videos (once per run, then cached)", real.wall, real.cpu),
      ("first evaluation (traces G's sampling)", warm.wall, warm.cpu),
      (f"one evaluation, {protocol.num_fake} fake videos (best of {fv.repeats})", one.wall, one.cpu),
      (f"bare I3D features of {protocol.num_fake} videos", bare.wall, bare.cpu),
      (f"demo: {n_evals} evaluations, added time (+ G's trace; the real statistics replace the end-of-run "
       "reference set)", added("wall"), added("cpu")),
  ]
  print(f"| {protocol.name}, tiny config ({config.num_frames} frames {config.resolution}x{config.resolution}) "
        "| wall s | CPU s |\n|---|---|---|")
  for name, wall, cpu in rows:
    print(f"| {name} | {wall:.1f} | {cpu:.1f} |")
  load_after = os.getloadavg()[0]
  print(f"load average before -> after: {load_before:.2f} -> {load_after:.2f}; {protocol.key('fvd')} "
        f"(untrained G) {list(value.values())[0]:.1f}")
  record = {"protocol": protocol.describe(),
            "seconds": {name: {"wall": round(w, 2), "cpu": round(c, 2)} for name, w, c in rows},
            "evaluations_wall": [round(t.wall, 2) for t in evals], "load_before": load_before,
            "load_after": load_after,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
  io.write_json(fv.json, record)


def main(argv=None) -> int:
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
