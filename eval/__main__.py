"""`python -m eval <command> ...`: see eval.cli."""
from eval.cli import run

if __name__ == "__main__":
  run()
