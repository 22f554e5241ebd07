"""The README's demo (`python -m dvd_gan.train`): experiments/tiny.py at 32x32 for 3000 steps, on the embedded
synthetic data.

Everything else is tiny.py's (networks, D's widths, batch 8, learning rates, EMA start, one thread per op, FVD
and class cues at the end): 32x32 frames, with one more upsampling stage in G (channels 32, 32, 16, 16), more
steps, a longer EMA (decay 0.999 instead of 0.99), and the `demo_fvd` curve every 1000 steps instead of 300.
tiny.py stays the 16x16 reference that the performance figures and the prediction demo (tiny_fp.py) are
measured with.

Why 3000 steps: at 32x32, 1800 steps left the 32-sample FVD during training flat in one of two runs (551 ->
674). Two runs of 3600 steps on a 2-core AMD EPYC Zen 4 (2026-12-03, EMA decay 0.99), their checkpoints scored
at 16x16 (samples 2x2-averaged, against the 16x16 demo's real videos; real against real 83.1):
`python benchmarks/demo_at_16px.py --workdirs=RUN --checkpoints=2400,3000,3600` (a run keeps its last 3
checkpoints, more with `--config.train.keep_checkpoints=N`):

    step   2400          3000          3600
    FVD    138.6, 172.2  125.6, 138.0  126.3, 145.8

Nothing in the schedule depends on the number of steps (constant learning rates, EMA from step 200), so a
3000-step run is the first 3000 steps of a 3600-step one: the last 600 steps did not improve either run, and
they are ~2 of the command's 11-14 minutes on a 2-core Zen 4 (~1 of ~6 on a Zen 5).

Why EMA decay 0.999: G's weights still swing at a constant lr 1e-3 after 3000 steps; 0.99 averages the last
~100 steps of them, 0.999 the last ~1000. Runs of this command on 2-core AMD EPYC Zen 5 machines, 2026-12-04
(docs/demo.md, "How much one run's figures move"), FVD of the 64 end-of-run EMA samples at 32x32:

    0.99   251.1, 283.5, 296.2, 438.7, 449.8, 471.5, 534.6, 553.5          (8 runs, median 444)
    0.999  217.6, 227.3, 264.0, 299.1, 300.6, 311.0, 371.2                 (7 runs, median 299)

At 16x16 (`benchmarks/demo_at_16px.py --draws=4`, the mean of 4 sets of 64 samples) the two are alike: 0.99
103.4-147.8 (5 runs), 0.999 101.4-131.1 (7 runs, median 110.2). The cost is a lag early on: at step 1800,
0.999's EMA is worse (201-220 at 16x16 against 139-175 with 0.99), and with 0.999 the figure still falls from
step 2400 to 3000 (means of 4: 142.3 -> 117.0, 125.6 -> 101.4, 166.9 -> 126.8, 166.9 -> 131.1), so a much
shorter run should keep 0.99.

Why the curve every 1000 steps: one evaluation (32 samples through the Kinetics-400 I3D) costs as much as ~100
training steps on 2-core machines, so tiny.py's interval (300) would take about a fifth of the run; 3 keep the
curve and the best checkpoint at well under a tenth (5-6 % of the command's wall time in docs/demo.md).
"""
from dvd_gan import experiments


def get_config():
  c = experiments.load("tiny")
  c.resolution = 32
  c.model.g_multipliers = (4, 4, 2, 2)   # 4 -> 32: channels 32, 32, 16, 16
  c.train.num_steps = 3000
  c.train.ema_decay = 0.999
  c.eval.every_steps = 1000
  return c
