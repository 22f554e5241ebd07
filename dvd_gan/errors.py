"""The one user-error class of dvd_gan.

`UserError` is a problem with what the user gave: a flag, a config, a file or a folder. Every command
reports it as one line `error: <message>` with exit status 2 (eval.command); any other exception is a bug
and keeps its traceback (exit status 1). It derives from eval's `EvalError`, the standalone evaluation
package's own user error (eval never imports dvd_gan), so eval.command reports both the same way.
"""
import contextlib

from eval.command import one_line
from eval.errors import EvalError


class UserError(EvalError):
  """A problem with the user's input (one line; exit status 2)."""


@contextlib.contextmanager
def config_errors(*also):
  """ValueErrors (and the exception types `also`) raised while a user's config is checked and its models
  and data are set up are that config's problems: they become UserError with the same message."""
  try:
    yield
  except (ValueError, *also) as e:
    raise UserError(one_line(e)) from e
