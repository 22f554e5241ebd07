"""FLOP counts of our models: the one place the project counts FLOPs (benchmarks/run_all.py uses it).

`count_flops(fn, *specs)` traces `fn` (a Python function of tensors, e.g. a forward pass, or a forward pass
plus `tape.gradient`, or a whole training step) into a graph WITHOUT running it, walks every operation
(recursing into called functions and control-flow bodies) and counts, from the static shapes of the graph:

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
Nothing else is counted twice: TensorFlow's own profiler misses the Conv3D backprops (no FLOP statistics are
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
  """Dense FLOPs of a traced function, by op type, and the number of operations it executes."""
  dense: int = 0
  by_type: dict = dataclasses.field(default_factory=lambda: collections.defaultdict(int))
  num_ops: int = 0
  ops_by_type: dict = dataclasses.field(default_factory=lambda: collections.defaultdict(int))
  unknown_shapes: int = 0  # dense ops whose shapes were not static (not counted: the count is a lower bound)

  def add(self, op_type, flops):
    self.dense += int(flops)
    self.by_type[op_type] += int(flops)

  def summary(self, top=8):
    """{"dense_flops", "num_ops", "flops_by_type", "top_op_types"} as plain Python values."""
    ops = sorted(self.ops_by_type.items(), key=lambda kv: -kv[1])[:top]
    return {"dense_flops": self.dense, "num_ops": self.num_ops,
            "flops_by_type": dict(sorted(self.by_type.items())), "top_op_types": dict(ops),
            "unknown_shapes": self.unknown_shapes}


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


def _called_graphs(op):
  """FuncGraphs of the functions `op` calls (PartitionedCall, While / If bodies, ...)."""
  graph = op.graph
  names = []
  for attr in op.node_def.attr.values():
    if attr.HasField("func"):
      names.append(attr.func.name)
    names.extend(f.name for f in attr.list.func)
  graphs = []
  for name in names:
    fn = graph._get_function(name)  # pylint: disable=protected-access
    while fn is None and hasattr(graph, "outer_graph") and graph.outer_graph is not None:
      graph = graph.outer_graph
      fn = graph._get_function(name)  # pylint: disable=protected-access
    if fn is not None and getattr(fn, "graph", None) is not None:
      graphs.append(fn.graph)
  return graphs


def count_graph(graph, count=None, _seen=None):
  """Adds the dense FLOPs and op count of every op of `graph` (and of the graphs it calls) to `count`."""
  count = FlopCount() if count is None else count
  seen = set() if _seen is None else _seen
  if id(graph) in seen:
    return count
  seen.add(id(graph))
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
    for sub in _called_graphs(op):
      count_graph(sub, count, seen)
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
