"""The README's demo (`python -m dvd_gan.train`): experiments/tiny.py at 32x32 for 3600 steps, on the embedded
synthetic data.

Everything else is tiny.py's (networks, D's widths, batch 8, learning rates, EMA, one thread per op, FVD and
class cues at the end): 32x32 frames, with one more upsampling stage in G (channels 32, 32, 16, 16), twice the
steps, and the `demo_fvd` curve every 1200 steps instead of 300. tiny.py stays the 16x16 reference that the
performance figures and the prediction demo (tiny_fp.py) are measured with.

Why: the step got faster (docs/performance.md) and with the time won the demo grew. Measured on the idle
2-core AMD EPYC machine (2026-11-28): at 32x32, 1800 steps left the 32-sample FVD during training
flat in one of two runs (551 -> 674); over 3600 steps it went from 1028 to 394 and from 1077 to 476 (623 at
the end), in about 9 minutes. Scored at 16x16 (samples 2x2-averaged, against the 16x16 demo's real videos:
benchmarks/demo_at_16px.py), the EMA samples of those two runs reach FVD 140.5 and 122.1 where the 16x16 demo
reached 229.7-273.5 (real against real: 83.1).

Why the curve every 1200 steps: one evaluation (32 samples through the Kinetics-400 I3D) costs as much as ~100
training steps on 2-core machines, so 12 evaluations took about a fifth of the run; 3 keep the curve (steps
1200-3600) and the best checkpoint at about a tenth, and the whole command took 14 min 47 s on the 2-core
AMD EPYC Zen 3 of docs/demo.md (18 min 28 s on the same machine in an hour when it trained at 4.5 steps/s instead
of 5.7; 17 min 14 s on a 2-core Zen 4 at 4.8 steps/s).
"""
from dvd_gan import experiments


def get_config():
  c = experiments.load("tiny")
  c.resolution = 32
  c.model.g_multipliers = (4, 4, 2, 2)   # 4 -> 32: channels 32, 32, 16, 16
  c.train.num_steps = 3600
  c.eval.every_steps = 1200
  return c
