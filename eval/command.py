"""One command-line convention for every command of the project (`python -m eval`, `dvd-gan-train`,
`dvd-gan-export`, ..., the benchmark scripts).

- Flags are absl flags, defined on a fresh `flags.FlagValues` per call: nothing is parsed, defined globally or
  exits at import time, and `main(argv)` can be called in-process (tests) and returns the exit status.
- Bad flags, bad arguments and user errors (`eval.errors.EvalError` and its subclasses: `UsageError`,
  dvd_gan's `UserError`) end with ONE line `error: <message>` on stderr and exit status 2, never a
  traceback. Any other exception is a bug: it propagates with its traceback (exit status 1).
- Ctrl-C ends with `error: interrupted` and status 130.

A program with sub-commands (`python -m eval fvd ...`) maps each name to the same pieces and calls
`dispatch(argv, {name: dict(define_flags=..., body=..., usage=...)}, usage)`. A command is written as

    def define_flags(fv, argv):  # argv: for flags that read overrides from it (ml_collections config flags)
      flags.DEFINE_string("out", None, "Output folder.", flag_values=fv)

    def body(fv, args) -> int | None:  # args: the positional arguments left after the flags
      ...

    def main(argv=None):
      return command.main(argv, define_flags=define_flags, body=body, usage=__doc__)

    if __name__ == "__main__":
      command.run(main)
"""
import os
import sys
from typing import Callable, Iterable

from absl import flags

from eval import errors
from eval.errors import EvalError


class UsageError(EvalError):
  """Bad flags or arguments of a command (a one-line message; exit status 2)."""


one_line = errors.one_line  # the commands' name for it


def first_line(e: BaseException) -> str:
  """The first non-empty line of an exception's message (TensorFlow's OpError: its `message`, without the
  traceback of the op that TensorFlow appends), stripped; its type name when it has no message."""
  text = getattr(e, "message", None) or str(e)
  lines = [line.strip() for line in str(text).splitlines() if line.strip()]
  return lines[0] if lines else type(e).__name__


def fail(message: str) -> int:
  """Prints `error: <message>` (one line) on stderr and returns 2, the exit status of a user error."""
  print(f"error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
  return 2


def require(fv: flags.FlagValues, *names: str) -> None:
  """UsageError naming the first of the flags `names` that was not given."""
  for name in names:
    if getattr(fv, name) in (None, ""):
      raise UsageError(f"--{name} is required")


def main(argv: Iterable[str] | None, *, define_flags: Callable, body: Callable, usage: str = "",
         allow_args: bool = False) -> int:
  """Parses `argv` ([program, flags and args...]; default sys.argv) and runs `body(fv, args)`.

  Args:
    argv: the command line, program name first.
    define_flags: `(fv, argv) -> None`, defines the command's flags on the fresh FlagValues `fv`.
    body: `(fv, args) -> int | None`, runs the command; None means 0.
    usage: text printed by --help before the flags.
    allow_args: whether positional arguments are accepted (else they are an error).
  Returns:
    The exit status: body's, 2 for a user error, 130 for Ctrl-C.
  """
  argv = list(sys.argv if argv is None else argv)
  fv = flags.FlagValues()
  flags.DEFINE_boolean("help", False, "Show this help and exit.", short_name="h", flag_values=fv)
  try:
    define_flags(fv, argv)
    try:
      args = fv(argv)[1:]
    except (flags.Error, KeyError, AttributeError, TypeError, ValueError) as e:
      # Raised while parsing the command line: a bad flag value, or an ml_collections `--config.key=value`
      # override naming a key the config lacks (KeyError / AttributeError) or giving a value of the wrong type.
      raise UsageError(one_line(e)) from None
    if fv.help:
      print((usage.strip() + "\n\n" if usage else "") + "flags:\n" + fv.get_help())
      return 0
    if args and not allow_args:
      raise UsageError(f"unexpected arguments: {' '.join(args)}")
    status = body(fv, args)
  except EvalError as e:
    return fail(one_line(e))
  except KeyboardInterrupt:
    return fail("interrupted") and 130
  return int(status or 0)


def dispatch(argv: Iterable[str], commands: dict, usage: str) -> int:
  """`program <command> flags...`: runs `main` with the command's entry of `commands`, a dict name ->
  dict(define_flags=..., body=..., usage=..., allow_args=...) (the same shape as a single command)."""
  argv = list(argv)
  if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
    print(usage)
    return 0 if len(argv) >= 2 else 2
  name = argv[1]
  if name not in commands:
    return fail(f"unknown command {name!r}; commands: {', '.join(commands)}")
  return main([f"{argv[0]} {name}"] + argv[2:], **commands[name])


def run(main_fn: Callable[[list[str]], int]) -> None:
  """Console entry point: `sys.exit(main_fn(sys.argv))`. Output piped into a reader that stops early
  (`dvd-gan-train --help | head`) ends the command quietly with status 141 (128 + SIGPIPE), no traceback."""
  try:
    status = main_fn(sys.argv)
  except BrokenPipeError:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush of stdout must not fail again
    status = 141
  sys.exit(status)
