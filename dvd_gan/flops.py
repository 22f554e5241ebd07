"""FLOP counts of our models: the one place the project counts FLOPs (benchmarks/run_all.py uses it).

`count_flops(fn, *specs)` traces `fn` (a Python function of tensors, e.g. a forward pass, or a forward pass
plus `tape.gradient`, or a whole training step) into a graph WITHOUT running it, walks every operation
(recursing into called functions and control-flow bodies) and counts, from the static shapes of the graph,
what one call executes:

  per call: a function called twice counts twice; a while loop counts its body (and its condition) as many
    times as it iterates when the trip count is static (a counter from a constant, stepped by a constant,
    compared with a constant); otherwise its body once and the count says it is a lower bound
    (`lower_bound`, `dynamic_loops`); a cond (If / Case) counts its larger branch (by dense FLOPs, then ops).
    tests/dvd_gan/test_flops.py checks each rule.

  dense FLOPs: the ops whose arithmetic is a matrix product, 2 FLOPs per multiply-add (the convention of
    TensorFlow's profiler, `tf.compat.v1.profiler`, for Conv2D and MatMul):
      Conv2D / Conv3D (+ their input and filter backprops): 2 * prod(output[:-1]) * prod(kernel[:-1]) * Cout
        (for a backprop, `output` is the forward output = the incoming gradient; a conv's backward pass is
        therefore exactly twice its forward count),
      MatMul / BatchMatMul(V2, V3): 2 * prod(output) * K (broadcast batch dimensions included),
      Einsum: 2 * the product of every distinct index size (contracted and free);
  op count: the number of executed operations (constants and no-ops excluded): how many kernels a step
    launches, what per-op overhead scales with.

Elementwise arithmetic (activations, batch-norm, adds) is not in the dense count: it is a few FLOPs per
element, bound by memory traffic, not by the matrix units whose peak `benchmarks/run_all.py` measures.
Nothing else is counted. TensorFlow's own profiler misses the Conv3D backprops (no FLOP statistics are
registered for them), which is why the project counts with this module.
"""
import collections
import dataclasses
from typing import Callable

import numpy as np
import tensorflow as tf

_CONV_OPS = {
    "Conv2D": "forward", "Conv3D": "forward",
    "Conv2DBackpropInput": "input", "Conv3DBackpropInputV2": "input", "Conv3DBackpropInput": "input",
    "Conv2DBackpropFilter": "filter", "Conv3DBackpropFilterV2": "filter", "Conv3DBackpropFilter": "filter",
}
_MATMUL_OPS = {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"}
_NOT_EXECUTED = {"Const", "NoOp", "Placeholder", "VarHandleOp", "_Arg", "_Retval"}


@dataclasses.dataclass
class FlopCount:
  """Dense FLOPs of a traced function, by op type, and the number of operations it executes.

  A call of an XLA-compiled function (`jit_compile=True`) is one operation for the executor: `num_ops` counts
  it once (and `compiled_calls` counts such calls), while its FLOPs are counted inside it.
  """
  dense: int = 0
  by_type: dict = dataclasses.field(default_factory=lambda: collections.defaultdict(int))
  num_ops: int = 0
  ops_by_type: dict = dataclasses.field(default_factory=lambda: collections.defaultdict(int))
  unknown_shapes: int = 0  # dense ops whose shapes were not static (not counted: the count is a lower bound)
  dynamic_loops: int = 0  # while loops whose trip count is not static (body counted once: a lower bound)
  compiled_calls: int = 0

  @property
  def lower_bound(self) -> bool:
    """True when the figures are a lower bound (a dense op of unknown shape, a loop of unknown trip count)."""
    return bool(self.unknown_shapes or self.dynamic_loops)

  def add(self, op_type, flops):
    self.dense += int(flops)
    self.by_type[op_type] += int(flops)

  def add_count(self, other, times=1, ops=True):
    """Adds `times` calls of what `other` counted (a called function's graph); its FLOPs only when `ops` is
    False (an XLA-compiled function: the executor runs it as the one op that calls it)."""
    self.dense += times * other.dense
    for k, v in other.by_type.items():
      self.by_type[k] += times * v
    if ops:
      self.num_ops += times * other.num_ops
      for k, v in other.ops_by_type.items():
        self.ops_by_type[k] += times * v
      self.compiled_calls += times * other.compiled_calls
    # not times a trip count: these say that the figure is a lower bound, not by how much
    self.unknown_shapes += other.unknown_shapes
    self.dynamic_loops += other.dynamic_loops

  def summary(self, top=8):
    """{"dense_flops", "num_ops", "compiled_calls", "flops_by_type", "top_op_types", "unknown_shapes",
    "dynamic_loops", "lower_bound"} as plain Python values."""
    ops = sorted(self.ops_by_type.items(), key=lambda kv: -kv[1])[:top]
    return {"dense_flops": self.dense, "num_ops": self.num_ops, "compiled_calls": self.compiled_calls,
            "flops_by_type": dict(sorted(self.by_type.items())), "top_op_types": dict(ops),
            "unknown_shapes": self.unknown_shapes, "dynamic_loops": self.dynamic_loops,
            "lower_bound": self.lower_bound}


def _shape(tensor):
  shape = tensor.shape
  if shape.rank is None or not shape.is_fully_defined():
    return None
  return shape.as_list()


def conv_flops(output_shape, kernel_shape):
  """2 * prod(output[:-1]) * prod(kernel[:-1]) * Cout: a convolution with output `[N, ..., Cout]` and kernel
  `[k..., Cin, Cout]` (SAME padding counts the zero-padded taps, as every FLOP convention does)."""
  return 2 * int(np.prod(output_shape[:-1])) * int(np.prod(kernel_shape))


def matmul_flops(output_shape, k):
  """2 * prod(output) * K: a (batched) matrix product with output `[..., M, N]` and contraction size K."""
  return 2 * int(np.prod(output_shape)) * int(k)


def _conv_op_flops(op):
  kind = _CONV_OPS[op.type]
  if kind == "forward":
    out, kernel = _shape(op.outputs[0]), _shape(op.inputs[1])
  elif kind == "input":  # inputs: (input_sizes, filter, out_backprop)
    out, kernel = _shape(op.inputs[2]), _shape(op.inputs[1])
  else:  # filter backprop: (input, filter_sizes, out_backprop); output = the filter gradient
    out, kernel = _shape(op.inputs[2]), _shape(op.outputs[0])
  if out is None or kernel is None:
    return None
  return conv_flops(out, kernel)


def _matmul_op_flops(op):
  a, out = _shape(op.inputs[0]), _shape(op.outputs[0])
  if a is None or out is None:
    return None
  transpose_a = op.get_attr("transpose_a") if op.type == "MatMul" else op.get_attr("adj_x")
  k = a[-2] if transpose_a else a[-1]
  return matmul_flops(out, k)


def _einsum_op_flops(op):
  equation = op.get_attr("equation").decode()
  inputs = equation.split("->")[0].split(",")
  sizes = {}
  for spec, tensor in zip(inputs, op.inputs):
    shape = _shape(tensor)
    if shape is None or "." in spec:
      return None
    sizes.update(zip(spec, shape))
  return 2 * int(np.prod(list(sizes.values())))


_WHILE_OPS = {"While", "StatelessWhile"}
_IF_OPS = {"If", "StatelessIf"}
_CASE_OPS = {"Case", "StatelessCase"}


def _function_graph(op, name):
  """The FuncGraph of the function `name` that `op` calls (looked up in op's graph and its outer graphs)."""
  graph = op.graph
  fn = graph._get_function(name)  # TensorFlow has no public lookup of a graph's function by name
  while fn is None and getattr(graph, "outer_graph", None) is not None:
    graph = graph.outer_graph
    fn = graph._get_function(name)  # TensorFlow has no public lookup of a graph's function by name
  return getattr(fn, "graph", None) if fn is not None else None


def _attr_graphs(op, attr):
  """FuncGraphs named by `op`'s attribute `attr` (a func, or a list of funcs as Case's branches)."""
  value = op.node_def.attr[attr]
  names = [value.func.name] if value.HasField("func") else [f.name for f in value.list.func]
  return [g for g in (_function_graph(op, n) for n in names) if g is not None]


def _called_graphs(op):
  """FuncGraphs of every function `op` calls (PartitionedCall, While / If bodies, ...)."""
  graphs = []
  for attr in op.node_def.attr:
    graphs.extend(_attr_graphs(op, attr))
  return graphs


def _source(tensor):
  """`tensor` with Identity ops looked through."""
  while tensor.op.type in ("Identity", "IdentityN") and tensor.op.inputs:
    tensor = tensor.op.inputs[tensor.value_index if tensor.op.type == "IdentityN" else 0]
  return tensor


def _static_value(tensor):
  """A scalar Python number if `tensor` (Identity looked through) is a constant, else None."""
  tensor = _source(tensor)
  if tensor.op.type != "Const":
    return None
  value = tf.get_static_value(tensor)
  if value is None or np.ndim(value) != 0:
    return None
  return value.item()


def _loop_input_index(graph, tensor):
  """i if `tensor` (Identity looked through) is the function graph's i-th input, else None."""
  tensor = _source(tensor)
  for i, t in enumerate(graph.inputs):
    if t is tensor:
      return i
  return None


def _loop_value(op, cond, body, tensor):
  """("const", value) if `tensor` of the cond graph is a constant or a loop-invariant input whose initial
  value is a constant; ("var", i) if it is loop variable i; None otherwise."""
  value = _static_value(tensor)
  if value is not None:
    return ("const", value)
  i = _loop_input_index(cond, tensor)
  if i is None or i >= len(op.inputs):
    return None
  initial = _static_value(op.inputs[i])
  if initial is not None and i < len(body.outputs) and _loop_input_index(body, body.outputs[i]) == i:
    return ("const", initial)  # unchanged by the body: a constant for the whole loop
  return ("var", i)


def _counter_step(body, i):
  """The constant the body adds to loop variable i (`v + c`), or None."""
  out = _source(body.outputs[i])
  if out.op.type not in ("Add", "AddV2") or len(out.op.inputs) != 2:
    return None
  a, b = out.op.inputs
  for var, step in ((a, b), (b, a)):
    if _loop_input_index(body, var) == i:
      return _static_value(step)
  return None


def _trip_count_of(op, cond, body, pred):
  """The static number of iterations decided by the boolean `pred` of the cond graph, or None."""
  pred = _source(pred)
  kind = pred.op.type
  if kind == "Const":  # `True` (an unbounded condition, e.g. a loop bounded by maximum_iterations only)
    return float("inf") if _static_value(pred) else 0
  if kind == "LogicalAnd":
    counts = [_trip_count_of(op, cond, body, t) for t in pred.op.inputs]
    return None if None in counts else min(counts)
  if kind not in ("Less", "LessEqual", "Greater", "GreaterEqual"):
    return None
  left, right = (_loop_value(op, cond, body, t) for t in pred.op.inputs)
  if left is None or right is None:
    return None
  if kind in ("Greater", "GreaterEqual"):  # n > i: i < n
    left, right, kind = right, left, {"Greater": "Less", "GreaterEqual": "LessEqual"}[kind]
  if left[0] != "var" or right[0] != "const":
    return None
  i = left[1]
  start, step = _static_value(op.inputs[i]), _counter_step(body, i)
  if start is None or step is None or step <= 0:
    return None
  span = right[1] - start
  trips = -(-span // step) if kind == "Less" else span // step + 1  # ceil for <, floor + 1 for <=
  return max(int(trips), 0)


def while_trip_count(op):
  """The static trip count of a While op (a counter from a constant, stepped by a constant, compared with a
  constant or with `maximum_iterations`), or None when it is not static."""
  cond, body = _attr_graphs(op, "cond"), _attr_graphs(op, "body")
  if not cond or not body:
    return None
  cond, body = cond[0], body[0]
  trips = _trip_count_of(op, cond, body, cond.outputs[0])
  return None if trips is None or trips == float("inf") else trips


def _count_one(graph, cache):
  """The count of one call of `graph` (memoised by graph: a function called N times is walked once)."""
  key = id(graph)
  if key not in cache:
    cache[key] = None  # a function graph cannot call itself; marks the walk as started
    cache[key] = _walk(graph, FlopCount(), cache)
  return cache[key]


def _walk(graph, count, cache):
  for op in graph.get_operations():
    if op.type not in _NOT_EXECUTED:
      count.num_ops += 1
      count.ops_by_type[op.type] += 1
    flops = 0
    if op.type in _CONV_OPS:
      flops = _conv_op_flops(op)
    elif op.type in _MATMUL_OPS:
      flops = _matmul_op_flops(op)
    elif op.type == "Einsum":
      flops = _einsum_op_flops(op)
    if flops is None:
      count.unknown_shapes += 1
    elif flops:
      count.add(op.type, flops)
    if op.type in _WHILE_OPS:
      trips = while_trip_count(op)
      if trips is None:  # counted for one iteration: a lower bound of any run that iterates at least once
        count.dynamic_loops += 1
      n = 1 if trips is None else trips
      for sub in _attr_graphs(op, "body"):
        count.add_count(_count_one(sub, cache), n)
      for sub in _attr_graphs(op, "cond"):  # evaluated once more than the body runs
        count.add_count(_count_one(sub, cache), n + 1)
    elif op.type in _IF_OPS or op.type in _CASE_OPS:
      attrs = ("then_branch", "else_branch") if op.type in _IF_OPS else ("branches",)
      branches = [_count_one(sub, cache) for attr in attrs for sub in _attr_graphs(op, attr)]
      if branches:  # one branch runs: the larger one
        count.add_count(max(branches, key=lambda c: (c.dense, c.num_ops)))
    else:
      compiled = _is_compiled_call(op)
      count.compiled_calls += int(compiled)
      for sub in _called_graphs(op):  # one call per execution of the op
        count.add_count(_count_one(sub, cache), ops=not compiled)
  return count


def _is_compiled_call(op):
  attr = op.node_def.attr
  return "_XlaMustCompile" in attr and attr["_XlaMustCompile"].b


def count_graph(graph, count=None):
  """Adds the dense FLOPs and op count of one execution of `graph` (and of the graphs it calls, per call) to
  `count` (a new FlopCount if None) and returns it."""
  count = FlopCount() if count is None else count
  count.add_count(_count_one(graph, {}))
  return count


def count_flops(fn: Callable, *specs) -> FlopCount:
  """Dense FLOPs and op count of `fn(*specs)`, traced (not run) by `tf.function`.

  Args:
    fn: a Python function of tensors (variables it uses are created while it is traced, as a layer's first
      call does) or a `tf.function`.
    *specs: `tf.TensorSpec`s (static shapes, so that every count is exact) or tensors.
  """
  if not isinstance(fn, tf.types.experimental.PolymorphicFunction):
    fn = tf.function(fn, autograph=False)
  concrete = fn.get_concrete_function(*specs)
  return count_graph(concrete.graph)


def count_concrete(concrete_function) -> FlopCount:
  """Dense FLOPs and op count of an already traced `ConcreteFunction`."""
  return count_graph(concrete_function.graph)
