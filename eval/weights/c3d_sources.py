"""C3D weights as TGAN distributes them: `conv3d_deepnetA_ucf.npz` (Chainer arrays) and `mean2.npz`."""
from eval import io as eio
from eval.errors import EvalError
from eval.weights import files

C3D_WEIGHTS_FILE = "conv3d_deepnetA_ucf.npz"
C3D_MEAN_FILE = "mean2.npz"


def how_to_get_c3d():
  return (f"get {C3D_WEIGHTS_FILE} and {C3D_MEAN_FILE} as distributed by TGAN (pfnet-research/tgan) and put "
          f"them in {files.cache_dir()} (or $VIDEO_EVAL_CACHE), or pass --weights DIR_OR_NPZ")


def c3d_paths(weights=None):
  """(weights npz, mean npz) for a folder holding both, a weights .npz (mean beside it), or None (cache)."""
  if weights is None:
    folder, weights_file = files.cache_dir(), None
  elif eio.isdir(weights):
    folder, weights_file = weights, None
  else:
    folder, weights_file = eio.dirname(weights), weights
  weights_file = weights_file or eio.join(folder, C3D_WEIGHTS_FILE)
  mean_file = eio.join(folder, C3D_MEAN_FILE)
  for path in (weights_file, mean_file):
    if not eio.isfile(path):
      raise EvalError(f"C3D file {path} not found: {how_to_get_c3d()}")
  return weights_file, mean_file


def load_c3d(weights=None, sha256=None):
  """(Chainer weight arrays, mean clip array, sha256 of the weights file); sha256 checked before reading."""
  weights_file, mean_file = c3d_paths(weights)
  sha = files.verify_sha256(weights_file, sha256)
  arrays = files.load_npz(weights_file)
  mean = files.load_npz(mean_file)
  if "mean" not in mean:
    raise EvalError(f"{mean_file} has no array 'mean' (TGAN's mean2.npz has one)")
  return arrays, mean["mean"], sha
