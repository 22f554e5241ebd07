"""The import arrows between the parts of dvd_gan and eval, read from the source (ast), not by importing.

Flow: run folder -> generator -> tools. The building blocks (dvd_gan.layers, models, data) import nothing
above them; reading a run (run_folder), sampling from a generator (generators), standing statistics and
random streams import no tool, no evaluation and no training loop; the evaluation sub-package and the tools
never import the training loop; only the export's command imports dvd_gan.export; eval is standalone.
Every import counts, also those inside functions (deferred imports are arrows too).
"""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = ("dvd_gan.train", "dvd_gan.export", "dvd_gan.sample", "dvd_gan.sampling", "dvd_gan.predict",
         "dvd_gan.evaluate", "dvd_gan.plot_metrics", "dvd_gan.prepare_videos")
LOOP = ("dvd_gan.training.loop", "dvd_gan.training.trainer")
BLOCKS = ("dvd_gan.layers", "dvd_gan.models", "dvd_gan.data")
RUN_AND_GENERATOR = ("dvd_gan.run_folder", "dvd_gan.generators", "dvd_gan.standing_stats", "dvd_gan.random_streams",
                     "dvd_gan.legacy")

# (importers, imported, why): no module under one of `importers` may import one under `imported`.
RULES = [
    (BLOCKS, ("dvd_gan.training", "dvd_gan.evaluation", "dvd_gan.run_folder", "dvd_gan.generators") + TOOLS,
     "layers, models and data are the building blocks: they import nothing above them"),
    (RUN_AND_GENERATOR, ("dvd_gan.evaluation",) + LOOP + TOOLS,
     "reading a run and sampling from a generator need neither the evaluation, the training loop nor a tool"),
    (("dvd_gan.evaluation",), LOOP + TOOLS, "the loop calls the evaluators, not the other way round"),
    (TOOLS, LOOP, "tools never import the training loop (only dvd_gan.train runs it)"),
    (("dvd_gan.training",), TOOLS, "training imports no command"),
    (("eval",), ("dvd_gan",), "eval is standalone"),
]
EXCEPTIONS = {("dvd_gan.train", "dvd_gan.training.loop")}  # the training command runs the loop
ONLY_IMPORTER = {"dvd_gan.export": ("dvd_gan.export",)}  # nothing but the export's command imports it


def _under(name: str, prefixes) -> bool:
  return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_files():
  """{module name: file path} of every module of dvd_gan/ and eval/."""
  out = {}
  for package in ("dvd_gan", "eval"):
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
      for f in files:
        if f.endswith(".py"):
          rel = os.path.relpath(os.path.join(folder, f), ROOT)[:-3].replace(os.sep, ".")
          out[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = os.path.join(folder, f)
  return out


def imported_modules(source: str, module: str, is_package: bool = False) -> set:
  """Absolute names of what `source` (the module `module`) imports: `import a.b` gives a.b; `from a import b`
  gives a and a.b (b may be a sub-module); relative imports are resolved against `module`."""
  out = set()
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Import):
      out.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        parts = module.split(".")
        anchor = parts if is_package else parts[:-1]
        anchor = anchor[:len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
      out.add(base)
      out.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
  return out


def violations(graph: dict) -> list:
  """The arrows of `graph` ({module: imported names}) that break a rule, as readable lines."""
  bad = []
  for module, names in sorted(graph.items()):
    for name in sorted(names):
      if any(module == m and _under(name, (t,)) for m, t in EXCEPTIONS):
        continue
      for importers, imported, why in RULES:
        if _under(module, importers) and _under(name, imported) and not _under(name, (module,)):
          bad.append(f"{module} imports {name}: {why}")
      for target, allowed in ONLY_IMPORTER.items():
        if _under(name, (target,)) and not _under(module, allowed):
          bad.append(f"{module} imports {name}: nothing but its command imports {target}")
  return bad


def import_graph() -> dict:
  graph = {}
  for module, path in module_files().items():
    with open(path, encoding="utf-8") as f:
      graph[module] = imported_modules(f.read(), module, path.endswith("__init__.py"))
  return graph


def test_the_package_follows_the_arrows():
  graph = import_graph()
  assert "dvd_gan.run_folder" in graph and "eval.api" in graph  # the walk found the modules
  assert violations(graph) == []


@pytest.mark.parametrize("module, source", [
    ("dvd_gan.models.generator", "from dvd_gan.training import loop"),
    ("dvd_gan.layers.blocks", "import dvd_gan.evaluation.scorer"),
    ("dvd_gan.data.pipeline", "def f():\n  from dvd_gan import export\n"),
    ("dvd_gan.sampling", "from dvd_gan import export"),
    ("dvd_gan.run_folder", "from dvd_gan.training.loop import train"),
    ("dvd_gan.generators", "from dvd_gan.evaluation import scorer"),
    ("dvd_gan.evaluation.periodic", "from dvd_gan.training.trainer import build_trainer"),
    ("dvd_gan.evaluate", "from dvd_gan.training import loop"),
    ("dvd_gan.training.loop", "from dvd_gan import sample"),
    ("eval.cli", "from dvd_gan import generators"),
    ("eval.metrics.frechet", "from ...dvd_gan import config"),
])
def test_an_arrow_the_wrong_way_is_found(module, source):
  """The checker flags each kind of wrong arrow (a new deferred import inside a function counts too)."""
  graph = import_graph()
  graph[module] = graph.get(module, set()) | imported_modules(source, module)
  assert violations(graph), source


def test_relative_imports_resolve_to_absolute_names():
  assert imported_modules("from . import io", "eval.cli") == {"eval", "eval.io"}
  assert imported_modules("from .metrics import frechet", "eval", is_package=True) == {
      "eval.metrics", "eval.metrics.frechet"}


def module_level_graph() -> dict:
  """{module: modules it imports when it is first imported}: import statements at module level (also under
  `if` / `try`), not those inside functions. `from package import name` counts as an arrow to package.name alone
  when every name is a sub-module (the package itself is initialised first in any case); an arrow to one's own
  ancestor package is left out for the same reason."""
  files = module_files()
  graph = {}
  for module, path in files.items():
    with open(path, encoding="utf-8") as f:
      tree = ast.parse(f.read())
    statements, todo = [], list(tree.body)
    while todo:
      node = todo.pop()
      if isinstance(node, (ast.Import, ast.ImportFrom)):
        statements.append(node)
      elif isinstance(node, (ast.If, ast.Try)):
        todo.extend(node.body + node.orelse + [s for h in getattr(node, "handlers", []) for s in h.body])
    arrows = set()
    for node in statements:
      names = imported_modules(ast.unparse(node), module, path.endswith("__init__.py")) & set(files)
      if isinstance(node, ast.ImportFrom):
        subs = {n for n in names if n.rsplit(".", 1)[-1] in {a.name for a in node.names}}
        if len(subs) == len(node.names):
          names = subs
      arrows |= {n for n in names if n != module and not module.startswith(n + ".")}
    graph[module] = arrows
  return graph


def import_cycles(graph: dict) -> list:
  """The cycles of `graph` as sorted lists of modules (strongly connected components of more than one)."""
  index, low, stack, on_stack, cycles = {}, {}, [], set(), []

  def visit(v):  # Tarjan's algorithm; the graph has ~150 nodes, recursion is fine
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in graph.get(v, ()):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        cycles.append(sorted(component))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return cycles


def test_no_module_imports_itself_back_at_import_time():
  """A cycle of module-level imports breaks whichever of its modules is imported first (a partially initialised
  module), e.g. a benchmark that imports the figures before the scorer."""
  assert import_cycles(module_level_graph()) == []


def test_an_import_cycle_is_found():
  graph = module_level_graph()
  graph["dvd_gan.evaluation.scorer"] = graph["dvd_gan.evaluation.scorer"] | {"dvd_gan.evaluation.figures"}
  assert ["dvd_gan.evaluation.figures", "dvd_gan.evaluation.scorer"] in import_cycles(graph)
