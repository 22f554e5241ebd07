"""Cost of a demo's evaluations: during training (eval.protocols every eval.every_steps) and at the end.

    python benchmarks/periodic_eval_cost.py [--config=demo] [--repeats=2] [--end_of_run]
        [--json=benchmarks/results/periodic_eval.json]

Runs with the config's own thread settings (train.intra_op_threads / inter_op_threads, applied before
TensorFlow starts, as `python -m dvd_gan.train` does), the genuine Kinetics-400 I3D and the config's generator
(untrained: the cost does not depend on the weights). Times the real statistics of the protocol (computed once
per run, then cached), one evaluation as the run makes it (standing statistics of G_ema when the config asks for
them, sampling num_fake videos, I3D features, FVD; best of --repeats after a warm-up that traces G and I3D), and
the bare I3D forward on the same number of videos with the batch in one part and in `eval.networks.cpu_parts()`
parts side by side (same process, same threads). With --end_of_run, also the end-of-run figures
(dvd_gan.evaluation.figures.demo_figures). Prints a table and the run's total evaluation time; writes JSON.
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
from eval import command, io  # noqa: E402


def define_flags(fv, argv):
  del argv
  flags.DEFINE_string("config", "demo", "Experiment whose evaluations are timed.", flag_values=fv)
  flags.DEFINE_bool("end_of_run", False, "Also time the end-of-run figures.", flag_values=fv)
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


def body(fv, args):
  del args
  config = experiments.load(fv.config)
  from dvd_gan.training.strategy import apply_thread_settings  # noqa: PLC0415 - before TensorFlow's runtime starts
  threads = (int(config.train.get("intra_op_threads", 0)), int(config.train.get("inter_op_threads", 0)))
  apply_thread_settings(*threads, log=print)
  from dvd_gan import standing_stats  # noqa: PLC0415 - after the thread settings
  from dvd_gan.config import resolve_config  # noqa: PLC0415 - after the thread settings
  from dvd_gan.evaluation import figures  # noqa: PLC0415 - after the thread settings
  from dvd_gan.evaluation import scorer as generator_scoring  # noqa: PLC0415 - after the thread settings
  from dvd_gan.models.build import build_models  # noqa: PLC0415 - after the thread settings
  from dvd_gan.training.trainer import build_trainer  # noqa: PLC0415 - after the thread settings
  from eval.features import extract_layers  # noqa: PLC0415 - after the thread settings
  from eval.networks import cpu_parts  # noqa: PLC0415 - after the thread settings
  from eval.protocols import get_protocol  # noqa: PLC0415 - after the thread settings
  import tensorflow as tf  # noqa: PLC0415 - after the thread settings

  config = resolve_config(config)
  protocol = get_protocol(config.eval.protocols[0])
  generator = build_models(config)[0]
  load_before = os.getloadavg()[0]
  rows = []
  with tempfile.TemporaryDirectory() as stats_dir:
    scorer = generator_scoring.GeneratorScorer(config, stats_dir=stats_dir, log=lambda s: None,
                                               real_progress=False)
    with _Timer() as build:
      net = scorer.network(protocol.network)

    def evaluate():  # what the periodic evaluation does (dvd_gan.evaluation.periodic)
      return scorer.score(standing_stats.sampling_generator(generator, config), protocol).values()

    with _Timer() as real:
      scorer.real_stats(protocol)
    with _Timer() as warm:
      evaluate()  # warm-up: traces G's sampling function
    evals = []
    for _ in range(fv.repeats):
      with _Timer() as one_eval:
        value = evaluate()
      evals.append(one_eval)
    videos = np.random.default_rng(0).integers(0, 256, [protocol.num_fake, int(config.num_frames),
                                                       int(config.resolution), int(config.resolution), 3],
                                               dtype=np.uint8)
    bare = {}
    for parts in dict.fromkeys((1, cpu_parts())):
      other = net.in_parts(parts)
      extract_layers(videos[:int(config.eval.batch_size)], other, ("logits",),
                     batch_size=int(config.eval.batch_size), progress=False)  # traces
      with _Timer() as t:
        extract_layers(videos, other, ("logits",), batch_size=int(config.eval.batch_size), progress=False)
      bare[parts] = t
    end = None
    if fv.end_of_run:
      trainer = build_trainer(config, tf.distribute.get_strategy(), None)
      with _Timer() as end:
        figures.demo_figures(config, trainer, real_reference=scorer.cached_real_stats(protocol.name),
                             log=lambda s: None)
  n_evals = int(config.train.num_steps) // int(config.eval.every_steps)
  one = min(evals, key=lambda t: t.wall)

  def total(attr):
    return (n_evals * getattr(one, attr) + getattr(warm, attr) - getattr(one, attr) + getattr(real, attr)
            + (getattr(end, attr) if end is not None else 0.0))

  rows = [
      ("I3D network build", build.wall, build.cpu),
      (f"real statistics, {protocol.num_real} videos (once per run, then cached)", real.wall, real.cpu),
      ("first evaluation (traces G's sampling)", warm.wall, warm.cpu),
      (f"one evaluation, {protocol.num_fake} fake videos (best of {fv.repeats})", one.wall, one.cpu),
  ]
  for parts, t in bare.items():
    rows.append((f"bare I3D features of {protocol.num_fake} videos, batch in {parts} part(s)", t.wall, t.cpu))
  if end is not None:
    rows.append(("end-of-run figures (fvd.json)", end.wall, end.cpu))
  rows.append((f"the run's evaluations: {n_evals} during training + real statistics"
               + (" + end-of-run figures" if end is not None else ""), total("wall"), total("cpu")))
  print(f"| {protocol.name}, {fv.config} config ({config.num_frames} frames {config.resolution}x"
        f"{config.resolution}; threads intra {threads[0]} inter {threads[1]}, 0 = default) "
        "| wall s | CPU s |\n|---|---|---|")
  for name, wall, cpu in rows:
    print(f"| {name} | {wall:.1f} | {cpu:.1f} |")
  load_after = os.getloadavg()[0]
  print(f"load average before -> after: {load_before:.2f} -> {load_after:.2f}; {protocol.key('fvd')} "
        f"(untrained G) {list(value.values())[0]:.1f}")
  record = {"config": fv.config, "threads": {"intra_op": threads[0], "inter_op": threads[1]},
            "evaluations_during_training": n_evals, "protocol": protocol.describe(),
            "seconds": {name: {"wall": round(w, 2), "cpu": round(c, 2)} for name, w, c in rows},
            "evaluations_wall": [round(t.wall, 2) for t in evals], "load_before": load_before,
            "load_after": load_after,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
  io.write_json(fv.json, record)


def main(argv=None) -> int:
  return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)


if __name__ == "__main__":
  command.run(main)
