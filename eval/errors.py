"""The one exception type the evaluation package raises for bad input or missing resources.

Its message is a single line that names the problem (and the file, when there is one); the CLI prints it as
`error: <message>` and exits with status 2, without a traceback.
"""


class EvalError(Exception):
  """A user-facing error of the evaluation package: bad input, missing weights, mismatched statistics."""
