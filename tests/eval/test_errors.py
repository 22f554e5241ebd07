"""eval.errors.one_line: the message part of every one-line error."""
import tensorflow as tf

from eval import command
from eval.errors import one_line


def test_one_line_folds_messages_onto_one_line():
  """Newlines and runs of spaces fold to one space; TensorFlow's OpError gives its message without the
  "{{function_node ...}}" op name before it; a KeyError its bare key; an empty message the type name;
  max_chars cuts; the commands' `command.one_line` is the same function."""
  assert one_line(ValueError("bad\n  value\tnow ")) == "bad value now"
  error = tf.errors.DataLossError(None, None, "{{function_node __wrapped__RestoreV2}} checksum\nmismatch")
  assert one_line(error) == "checksum mismatch"
  assert one_line(KeyError("model.g_ch")) == "model.g_ch"
  assert one_line(RuntimeError()) == "RuntimeError"
  assert one_line(ValueError("x" * 50), max_chars=10) == "x" * 10
  assert command.one_line is one_line
