"""The one exception type the evaluation package raises for bad input or missing resources.

Its message is a single line that names the problem (and the file, when there is one); the CLI prints it as
`error: <message>` and exits with status 2, without a traceback.
"""


class EvalError(Exception):
  """A user-facing error of the evaluation package: bad input, missing weights, mismatched statistics."""


def one_line(e: BaseException, max_chars: int | None = None) -> str:
  """The message of `e` for a one-line error: whitespace (newlines included) folded to single spaces;
  TensorFlow's OpError by its `message` (without the op's details), without a leading "{{function_node ...}}";
  a KeyError's key without the quotes its str() adds; the type name when there is no message; at most
  `max_chars` characters."""
  if isinstance(e, KeyError) and len(e.args) == 1:
    text = str(e.args[0])
  else:
    text = getattr(e, "message", None)
    text = text if isinstance(text, str) and text else str(e)
  text = " ".join(text.split())
  if text.startswith("{{function_node"):  # the op's name, before the message
    text = text.split("}}", 1)[-1].strip()
  text = text or type(e).__name__
  return text if max_chars is None else text[:max_chars]
