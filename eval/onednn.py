"""oneDNN for TensorFlow's CPU kernels, on every x86 CPU.

TensorFlow turns its oneDNN kernels on by default only on x86 CPUs with AVX-512 VNNI / BF16 or AMX; on the
others (an AVX2 AMD EPYC, for one) its default Eigen kernels ran the demo's training step 1.55x slower and the
I3D forward 2.62x slower (docs/performance.md, "oneDNN"). The choice is read once, when TensorFlow loads, so
it is made when this package (or dvd_gan, which calls it too) is imported: importing TensorFlow first keeps
TensorFlow's own default. A user's `TF_ENABLE_ONEDNN_OPTS` (0 or 1) always wins.
"""
import os
import platform

ENV = "TF_ENABLE_ONEDNN_OPTS"


def prefer_onednn(environ=None) -> bool:
  """Sets `TF_ENABLE_ONEDNN_OPTS=1` on x86 unless the variable is set; True when this call set it."""
  environ = os.environ if environ is None else environ
  if ENV in environ or platform.machine().lower() not in ("x86_64", "amd64", "x86", "i686"):
    return False
  environ[ENV] = "1"
  return True


def onednn_enabled():
  """Whether the loaded TensorFlow runs its oneDNN kernels (None when this TensorFlow cannot say)."""
  try:
    from tensorflow.python.util import _pywrap_util_port  # noqa: PLC0415 - private, may move
  except ImportError:
    return None
  return bool(_pywrap_util_port.IsMklEnabled())
