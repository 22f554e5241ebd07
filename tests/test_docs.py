"""The repository explains itself: its citations and links point at files a user of the repository has.

Properties checked (file reads only, no TensorFlow work):
  * no file cites the internal method note that users never get (the upper-case `paper` .md file); the
    method is cited as docs/paper.md;
  * every relative link of README.md and docs/*.md names an existing file, and every `#anchor` into
    docs/paper.md names one of its headings;
  * every section a citation quotes (`docs/paper.md, "Section"`, `[paper.md](paper.md), "Section"`) is a
    heading of docs/paper.md;
  * every repository path docs/paper.md names in backticks or links exists;
  * README.md is at most 150 lines, and README.md and docs/*.md name no commit (a hexadecimal word of 7-40
    characters) and no tracker item: they describe the code as it is; measurements keep their commit in the
    JSON of benchmarks/results/.
"""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHOD_DOC = os.path.join(ROOT, "docs", "paper.md")
INTERNAL_NOTE = "paper".upper() + ".md"  # spelled so that this file does not cite it either
TEXT_SUFFIXES = (".py", ".md", ".txt", ".ini", ".cfg", ".toml", ".sh", ".yaml", ".yml")
TEXT_NAMES = ("LICENSE", "NOTICE", "run")
SKIP_DIRS = {".git", "__pycache__", "build", "dist", "runs", ".pytest_cache"}
REPO_PREFIXES = ("dvd_gan/", "eval/", "experiments/", "tests/", "benchmarks/", "docs/")


def _read(path):
  with open(path, encoding="utf-8", errors="replace") as f:
    return f.read()


def _text_files():
  for folder, dirs, files in os.walk(ROOT):
    dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
    for name in files:
      path = os.path.join(folder, name)
      if (name.endswith(TEXT_SUFFIXES) or name in TEXT_NAMES) and path != os.path.abspath(__file__):
        yield path  # this file quotes the patterns it looks for


def _markdown_files():
  docs = os.path.join(ROOT, "docs")
  return [os.path.join(ROOT, "README.md")] + sorted(
      os.path.join(docs, n) for n in os.listdir(docs) if n.endswith(".md"))


def _slug(heading):
  """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
  text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
  return text.replace(" ", "-")


def _headings(path):
  return [m.group(1).strip() for m in re.finditer(r"^#{1,6} (.+)$", _read(path), re.M)]


def test_no_file_cites_the_internal_method_note():
  """Citations of the method name docs/paper.md, which ships with the repository."""
  offenders = [os.path.relpath(p, ROOT) for p in _text_files() if INTERNAL_NOTE in _read(p)]
  assert not offenders, f"{INTERNAL_NOTE} is cited in {offenders}; cite docs/paper.md"


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: os.path.relpath(p, ROOT))
def test_relative_links_point_at_existing_files_and_headings(path):
  """[text](target) with a relative target: the file exists; an anchor into docs/paper.md is a heading."""
  paper_anchors = {_slug(h) for h in _headings(METHOD_DOC)}
  broken = []
  for target in re.findall(r"\]\(([^)\s]+)\)", _read(path)):
    if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
      continue
    file_part, _, anchor = target.partition("#")
    resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
    if not os.path.exists(resolved):
      broken.append(target)
    elif anchor and os.path.samefile(resolved, METHOD_DOC) and anchor not in paper_anchors:
      broken.append(target)
  assert not broken, f"{os.path.relpath(path, ROOT)}: broken links {broken}"


def test_quoted_sections_of_paper_doc_exist():
  """`docs/paper.md, "X"` and `[paper.md](paper.md), "X"` name a heading X of docs/paper.md."""
  headings = set(_headings(METHOD_DOC))
  cited = re.compile(r'(?:docs/paper\.md|\[paper\.md\]\(paper\.md\)),\s+"([^"]+)"')
  missing = []
  for path in _text_files():
    for section in cited.findall(_read(path)):
      section = " ".join(section.split())  # a quoted name may be wrapped over two lines
      if section not in headings:
        missing.append((os.path.relpath(path, ROOT), section))
  assert not missing, f"sections cited but not in docs/paper.md: {missing}"


def test_paths_named_by_paper_doc_exist():
  """Every repository path in backticks or in a link of docs/paper.md exists (module moves break it)."""
  text = _read(METHOD_DOC)
  names = re.findall(r"`([^`\s]+)`", text) + re.findall(r"\]\(\.\./([^)#\s]+)\)", text)
  paths = {n.rstrip("/") for n in names if n.startswith(REPO_PREFIXES)}
  assert len(paths) > 20, sorted(paths)  # the doc links its sections to the code
  missing = sorted(p for p in paths if not os.path.exists(os.path.join(ROOT, p)))
  assert not missing, f"docs/paper.md names paths that do not exist: {missing}"


README_MAX_LINES = 150
COMMIT_LIKE = re.compile(r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b")
TRACKER_WORD = re.compile("is" + "sue", re.I)  # spelled so that a search of the repository for it skips this file


def test_readme_is_short():
  """README.md is for users: at most README_MAX_LINES lines; the details live in docs/."""
  lines = _read(os.path.join(ROOT, "README.md")).splitlines()
  assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: os.path.relpath(p, ROOT))
def test_docs_name_no_commit_and_no_tracker_item(path):
  """The documentation describes the code as it is: no commit hashes, no tracker items."""
  text = _read(path)
  found = COMMIT_LIKE.findall(text) + TRACKER_WORD.findall(text)
  assert not found, f"{os.path.relpath(path, ROOT)} names {sorted(set(found))}"
