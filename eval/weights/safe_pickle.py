"""A restricted unpickler for pickles that hold only numpy arrays in (nested) builtin containers.

Plain `pickle.load` runs arbitrary code named by the pickle (e.g. `os.system`); this unpickler resolves only
the few globals numpy needs to rebuild arrays and dtypes, and rejects every other global with an EvalError.
"""
import io
import pickle

from eval.errors import EvalError

# (module, name) pairs a numpy-array pickle needs; numpy 2 renamed numpy.core to numpy._core.
_ALLOWED_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("collections", "OrderedDict"),
})


class NumpyOnlyUnpickler(pickle.Unpickler):
  """Unpickler whose `find_class` admits only numpy array/dtype reconstruction and builtin containers."""

  def find_class(self, module, name):
    if (module, name) not in _ALLOWED_GLOBALS:
      raise EvalError(f"refusing to unpickle global {module}.{name}: only numpy arrays are allowed")
    return super().find_class(module, name)


def load_numpy_pickle(data):
  """Unpickles bytes `data` that may hold only numpy arrays, scalars and builtin containers.

  Raises EvalError if the pickle names any other global or is malformed.
  """
  try:
    return NumpyOnlyUnpickler(io.BytesIO(data)).load()
  except EvalError:
    raise
  except Exception as e:  # malformed or truncated pickle
    raise EvalError(f"cannot read numpy pickle: {type(e).__name__}: {e}") from None
