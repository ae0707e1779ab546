"""Graph capture: trace a model with ``torch.export`` and list its compute operations.

Every ATen node of the exported graph that depends on the model's inputs is classified:

- *mappable*: a matrix product or convolution with a static operand (a parameter, buffer or
  constant, possibly viewed/transposed) -- ``linear``, ``conv1d``/``conv2d``, ``mm``/``addmm``/
  ``matmul`` with a static weight. These can run on crossbar arrays.
- *digital*: everything else that computes (activations, norms, softmax, attention's
  activation-by-activation products, embeddings, pooling, residual adds).
- *free*: pure data movement and shape changes (view, transpose, slice, cat, dropout at
  inference, ...), which are not listed; the dataflow edges pass through them.

Nodes that do not depend on the inputs (masks built from ``arange``, weight transposes) are
constant-folded by any compiler and are not listed either.

Operation counts, per inference at batch 1 (the example's counts divided by its batch):
``macs`` for matrix products and convolutions (computed from shapes; ``torch.utils.flop_counter``
formulas for the ATen ops it registers), ``digital_ops`` for what the digital unit does: 2 per MAC
for digital matrix products, and for element-wise work the per-element counts in ``OPS_PER_ELEM``
(a counting convention, not a measurement: one add/multiply/compare is one op; a transcendental
evaluated by a short polynomial a few ops).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_flatten

from analogue._util import inputs

# Ops per output element for element-wise and normalisation work (counting convention).
OPS_PER_ELEM: dict[str, int] = {
    "relu": 1,
    "relu6": 1,
    "hardtanh": 1,
    "leaky_relu": 2,
    "add": 1,
    "sub": 1,
    "mul": 1,
    "div": 1,
    "neg": 1,
    "abs": 1,
    "maximum": 1,
    "minimum": 1,
    "clamp": 1,
    "clamp_min": 1,
    "clamp_max": 1,
    "where": 1,
    "masked_fill": 1,
    "eq": 1,
    "ne": 1,
    "ge": 1,
    "gt": 1,
    "le": 1,
    "lt": 1,
    "rsub": 1,
    "square": 1,
    "pow": 2,
    "sqrt": 4,
    "rsqrt": 4,
    "reciprocal": 4,
    "exp": 4,
    "log": 4,
    "tanh": 4,
    "sigmoid": 4,
    "erf": 4,
    "hardsigmoid": 2,
    "hardswish": 3,
    "silu": 5,
    "gelu": 8,
    "mish": 10,
    "softplus": 8,
    "elu": 5,
    "softmax": 5,
    "_softmax": 5,
    "log_softmax": 6,
    "_log_softmax": 6,
    "layer_norm": 7,
    "native_layer_norm": 7,
    "group_norm": 7,
    "native_group_norm": 7,
    "instance_norm": 7,
    "rms_norm": 5,
    "_fused_rms_norm": 5,
    "batch_norm": 2,
    "_native_batch_norm_legit_no_training": 2,
    "native_batch_norm": 2,
    "_native_batch_norm_legit": 2,
}

# Pure data movement / shape changes: no operations, not listed.
FREE_OPS = frozenset(
    """view reshape _unsafe_view transpose t permute expand expand_as slice select unsqueeze
    squeeze flatten unflatten contiguous clone dropout native_dropout feature_dropout
    alpha_dropout alias detach split split_with_sizes chunk unbind narrow cat concat
    concatenate stack _to_copy to type_as lift_fresh_copy copy _assert_tensor_metadata
    constant_pad_nd pad repeat roll flip movedim swapaxes transpose_copy view_copy
    index_select gather index embedding_dense_backward zeros_like ones_like full_like
    empty_like new_zeros new_ones new_empty scalar_tensor sym_size sym_numel sym_stride
    _assert_scalar""".split()
)

POOL_OPS = frozenset(
    """max_pool1d max_pool2d max_pool3d max_pool2d_with_indices avg_pool1d avg_pool2d avg_pool3d
    adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d adaptive_max_pool1d
    adaptive_max_pool2d _adaptive_avg_pool2d""".split()
)
REDUCE_OPS = frozenset(
    "mean sum amax amin max min prod var std var_mean norm linalg_vector_norm cumsum".split()
)
CONV_OPS = frozenset("conv1d conv2d conv3d convolution _convolution".split())
TRANSPOSED_CONV_OPS = frozenset("conv_transpose1d conv_transpose2d conv_transpose3d".split())
MATMUL_OPS = frozenset("linear mm addmm matmul bmm baddbmm einsum".split())
ATTENTION_OPS = frozenset(
    """scaled_dot_product_attention _scaled_dot_product_flash_attention_for_cpu
    _scaled_dot_product_efficient_attention _scaled_dot_product_flash_attention""".split()
)


@dataclass
class OpNode:
    """One compute operation of the traced model (counts per inference at batch 1)."""

    name: str
    op: str
    module: str
    mappable: bool
    weight: str = ""  # qualified name of the static weight (parameter/buffer), "" if none
    weight_shape: tuple[int, ...] = ()
    rows: int = 0
    cols: int = 0
    groups: int = 1
    mvms: int = 0
    macs: int = 0
    digital_ops: int = 0
    has_bias: bool = False
    input_elems: int = 0
    output_elems: int = 0
    inputs: list[str] = field(default_factory=list)
    reason: str = ""
    uses: int = 1  # times the op ran per forward (a shared weight used twice counts 2)


class CaptureError(RuntimeError):
    """The model could not be traced; the message says why and what to try."""


def as_args(example_inputs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Normalise ``example_inputs`` (one batch in the convention of ``analogue._util.inputs``: a
    tensor, a tuple/list of positional inputs, a dict of keyword inputs, or an ``(x, y)`` pair
    whose labels are dropped) into ``(args, kwargs)`` for ``torch.export``."""
    if not isinstance(example_inputs, (torch.Tensor, Mapping, tuple, list)):
        raise TypeError("example_inputs must be one batch: a tensor, a tuple/list of positional inputs, a "
                        f"dict of keyword inputs or an (x, y) pair; got {type(example_inputs).__name__}")
    batch = inputs.as_batch(example_inputs, "example_inputs")
    return batch.args, batch.kwargs


def infer_batch_size(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Leading dimension of the first input tensor (1 for a tensor with fewer than 2 dims; 0 for
    an empty one)."""
    leaves, _ = tree_flatten((args, kwargs))
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor):
            if leaf.numel() == 0:
                return 0
            return int(leaf.shape[0]) if leaf.dim() >= 2 else 1
    return 1


_WRAP = "wrapped_model"  # attribute name of the traced model inside _TensorOutputs


class _TensorOutputs(nn.Module):
    """Runs the model and returns only the tensors of its output (Hugging Face models may return
    objects, e.g. caches, that ``torch.export`` cannot flatten; the graph is the same)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        setattr(self, _WRAP, model)

    def forward(self, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, ...]:
        out = getattr(self, _WRAP)(*args, **kwargs)
        if hasattr(out, "to_tuple"):  # transformers ModelOutput
            out = out.to_tuple()
        leaves, _ = tree_flatten(out)
        return tuple(t for t in leaves if isinstance(t, torch.Tensor))


def _unwrap(fqn: str) -> str:
    """Qualified name inside the wrapped model (drops the wrapper's attribute prefix)."""
    if fqn == _WRAP:
        return ""
    return fqn[len(_WRAP) + 1 :] if fqn.startswith(_WRAP + ".") else fqn


def export(
    model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> torch.export.ExportedProgram:
    """``torch.export`` the model (non-strict, no gradients); wraps failures with advice.

    Qualified names in the result carry the prefix ``wrapped_model.`` (see ``_unwrap``).
    """
    try:
        with torch.no_grad():
            return torch.export.export(_TensorOutputs(model), args, kwargs, strict=False)
    except Exception as exc:  # noqa: BLE001 -- re-raised with context
        raise CaptureError(
            f"torch.export could not trace {type(model).__name__}: {type(exc).__name__}: {exc}."
            " Check that example_inputs run through model(...) as given (a dict is passed as"
            " keyword arguments) and that the forward has no data-dependent Python control flow."
        ) from exc


def _opname(target: Any) -> str:
    if isinstance(target, torch._ops.OpOverload):
        return target._schema.name.split("::")[-1]
    if target is operator.getitem:
        return "getitem"
    return getattr(target, "__name__", str(target))


def _numel(val: Any) -> int:
    leaves, _ = tree_flatten(val)
    return sum(int(t.numel()) for t in leaves if isinstance(t, torch.Tensor))


def _val(node: Any) -> Any:
    return node.meta.get("val") if isinstance(node, torch.fx.Node) else node


def _module_of(node: torch.fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    return _unwrap(str(list(stack.values())[-1][0]))


def _conv_groups(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    if name in ("convolution", "_convolution"):
        g = args[8] if len(args) > 8 else kwargs.get("groups", 1)
    else:
        g = args[6] if len(args) > 6 else kwargs.get("groups", 1)
    return int(g)


def _is_transposed_conv(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    if name in ("convolution", "_convolution"):
        return bool(args[6] if len(args) > 6 else kwargs.get("transposed", False))
    return False


def _registry_flops(target: Any, node: torch.fx.Node) -> int | None:
    """FLOPs from ``torch.utils.flop_counter``'s formula for this ATen op, if it has one."""
    from torch.utils.flop_counter import flop_registry

    packet = getattr(target, "overloadpacket", None)
    fn = flop_registry.get(packet)
    if fn is None:
        return None
    args = tuple(_val(a) if isinstance(a, torch.fx.Node) else a for a in node.args)
    kwargs = {k: (_val(v) if isinstance(v, torch.fx.Node) else v) for k, v in node.kwargs.items()}
    try:
        return int(fn(*args, out_val=_val(node), **kwargs))
    except Exception:  # noqa: BLE001 -- fall back to our own formula
        return None


def capture(
    model: nn.Module, example_inputs: Any, batch_size: int | None = None
) -> tuple[list[OpNode], int]:
    """Trace ``model`` on ``example_inputs`` and return ``(ops, batch_size)``.

    ``ops`` are in execution order; a static weight used several times (weight sharing, a module
    called twice) is one op whose counts add up over its uses. Counts are per inference at batch 1.
    """
    args, kwargs = as_args(example_inputs)
    batch = int(batch_size) if batch_size is not None else infer_batch_size(args, kwargs)
    if batch < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch}")
    ep = export(model, args, kwargs)
    sig = ep.graph_signature
    static_names: dict[str, str] = {}
    static_names.update(sig.inputs_to_parameters)
    static_names.update(sig.inputs_to_buffers)
    static_names.update(getattr(sig, "inputs_to_lifted_tensor_constants", {}) or {})
    static_names = {k: _unwrap(v) for k, v in static_names.items()}
    user_inputs = set(sig.user_inputs)

    dynamic: set[torch.fx.Node] = set()  # nodes that depend on the model's inputs
    root: dict[torch.fx.Node, str] = {}  # static node -> qualified name of the tensor it views
    src: dict[torch.fx.Node, tuple[str, ...]] = {}  # node -> producing ops (dataflow edges)
    ops: dict[str, OpNode] = {}
    weight_op: dict[str, str] = {}  # weight qualified name -> op name (merge shared weights)

    def dyn_args(node: torch.fx.Node) -> list[torch.fx.Node]:
        leaves, _ = tree_flatten((node.args, node.kwargs))
        return [a for a in leaves if isinstance(a, torch.fx.Node) and a in dynamic]

    def sources(nodes: list[torch.fx.Node]) -> tuple[str, ...]:
        out: dict[str, None] = {}
        for n in nodes:
            for s in src.get(n, ()):
                out[s] = None
        return tuple(out)

    for node in ep.graph.nodes:
        if node.op == "placeholder":
            if node.name in user_inputs:
                dynamic.add(node)
                src[node] = (f"@{node.name}",)
            elif node.name in static_names:
                root[node] = static_names[node.name]
            continue
        if node.op != "call_function":
            continue
        dargs = dyn_args(node)
        if not dargs:  # constant-foldable: remember which static tensor it views
            leaves, _ = tree_flatten(node.args)
            for a in leaves:
                if isinstance(a, torch.fx.Node) and a in root:
                    root[node] = root[a]
                    break
            continue
        dynamic.add(node)
        name = _opname(node.target)
        if name in FREE_OPS or name == "getitem":
            src[node] = sources(dargs)
            continue
        op = _classify(node, name, dargs, root, batch)
        op.inputs = list(sources(dargs))
        op.module = _module_of(node)
        if op.mappable and op.weight:
            prev = weight_op.get(op.weight)
            if prev is not None:  # shared weight: one set of arrays, counts add up
                _merge(ops[prev], op)
                src[node] = (prev,)
                continue
            owner = op.weight.rsplit(".", 1)[0] if "." in op.weight else op.weight
            op.name = owner if owner not in ops else op.weight
            weight_op[op.weight] = op.name
        else:
            op.name = f"{op.module}:{node.name}" if op.module else node.name
        ops[op.name] = op
        src[node] = (op.name,)
    return list(ops.values()), batch


def _merge(into: OpNode, other: OpNode) -> None:
    into.mvms += other.mvms
    into.macs += other.macs
    into.digital_ops += other.digital_ops
    into.input_elems += other.input_elems
    into.output_elems += other.output_elems
    into.uses += other.uses
    for s in other.inputs:
        if s not in into.inputs:
            into.inputs.append(s)


def _per_batch(v: int, batch: int) -> int:
    return v // batch if v % batch == 0 else int(round(v / batch))


def _classify(
    node: torch.fx.Node,
    name: str,
    dargs: list[torch.fx.Node],
    root: dict[torch.fx.Node, str],
    batch: int,
) -> OpNode:
    """Build the OpNode for one dynamic compute node (counts per batch-1 inference)."""
    args, kwargs = node.args, node.kwargs
    out = _val(node)
    out_elems = _numel(out)
    in_elems = sum(_numel(_val(a)) for a in dargs)
    pb = lambda v: _per_batch(int(v), batch)  # noqa: E731
    op = OpNode(
        name=node.name,
        op=name,
        module="",
        mappable=False,
        input_elems=pb(in_elems),
        output_elems=pb(out_elems),
    )

    def static_operand(a: Any) -> tuple[str, tuple[int, ...]] | None:
        if isinstance(a, torch.fx.Node) and a not in dargs and a in root:
            v = _val(a)
            return root[a], tuple(int(s) for s in v.shape)
        return None

    # -- convolutions -------------------------------------------------------------------------
    if name in CONV_OPS or name in TRANSPOSED_CONV_OPS:
        w = static_operand(args[1])
        wv = _val(args[1])
        groups = _conv_groups(name, args, kwargs) if name in CONV_OPS else 1
        transposed = name in TRANSPOSED_CONV_OPS or _is_transposed_conv(name, args, kwargs)
        k_elems = math.prod(int(s) for s in wv.shape[2:])
        spatial = wv.dim() - 2
        op.op = f"conv{spatial}d" if not transposed else f"conv_transpose{spatial}d"
        has_bias = len(args) > 2 and args[2] is not None
        if transposed:
            macs = _numel(_val(args[0])) * int(wv.shape[1]) * k_elems
            op.macs = pb(macs)
            op.digital_ops = 2 * op.macs
            op.reason = "transposed convolutions are not mapped to arrays"
            op.weight_shape = tuple(int(s) for s in wv.shape)
            return op
        c_out = int(wv.shape[0])
        rows = int(wv.shape[1]) * k_elems
        cols = c_out // groups
        mvms = out_elems // c_out
        op.weight_shape = tuple(int(s) for s in wv.shape)
        op.rows, op.cols, op.groups = rows, cols, groups
        op.mvms = pb(mvms)
        flops = _registry_flops(node.target, node)
        macs = flops // 2 if flops is not None else mvms * rows * cols * groups
        op.macs = pb(macs)
        op.has_bias = has_bias
        if w is not None and spatial in (1, 2):
            op.mappable, op.weight = True, w[0]
        elif w is None:
            op.digital_ops = 2 * op.macs
            op.reason = "convolution with a weight computed from activations"
        else:
            op.digital_ops = 2 * op.macs
            op.reason = f"conv{spatial}d is not mapped to arrays (conv1d/conv2d are)"
        return op

    # -- matrix products ----------------------------------------------------------------------
    if name in MATMUL_OPS:
        if name == "linear":
            x, wnode = args[0], args[1]
            has_bias = len(args) > 2 and args[2] is not None
            wv = _val(wnode)
            rows, cols = int(wv.shape[-1]), int(wv.shape[0])
            op.op = "linear"
        elif name in ("addmm", "baddbmm"):
            x, wnode = args[1], args[2]
            has_bias = True
            wv = _val(wnode)
            rows, cols = int(wv.shape[-2]), int(wv.shape[-1])
            op.op = "matmul" if name == "addmm" else "bmm"
        elif name == "einsum":
            op.op = "einsum"
            flops = _einsum_macs(args[0], [_val(a) for a in args[1]])
            op.macs = pb(flops)
            op.digital_ops = 2 * op.macs
            op.reason = "einsum is not mapped to arrays" if len(dargs) < len(args[1]) else ""
            return op
        else:  # mm, matmul, bmm
            a, b = args[0], args[1]
            left_static = static_operand(a) is not None and static_operand(b) is None
            x, wnode = (b, a) if left_static else (a, b)
            has_bias = False
            wv = _val(wnode)
            op.op = "bmm" if name == "bmm" else "matmul"
            if left_static:  # y = W @ x: columns of x are the input vectors
                rows, cols = int(wv.shape[-1]), int(wv.shape[-2]) if wv.dim() >= 2 else 1
            else:
                rows = int(wv.shape[-2]) if wv.dim() >= 2 else int(wv.shape[0])
                cols = int(wv.shape[-1]) if wv.dim() >= 2 else 1
        w = static_operand(wnode)
        xv = _val(x)
        flops = _registry_flops(node.target, node)
        if w is not None and wv.dim() == 2:
            mvms = _numel(xv) // rows
            macs = flops // 2 if flops is not None else mvms * rows * cols
            op.mappable, op.weight = True, w[0]
            op.weight_shape = tuple(int(s) for s in _val_root_shape(wnode, root, wv))
            op.rows, op.cols, op.groups = rows, cols, 1
            op.mvms, op.macs, op.has_bias = pb(mvms), pb(macs), has_bias
            return op
        # activation x activation (attention scores, attention x values) or batched weights
        macs = (
            flops // 2
            if flops is not None
            else _matmul_macs(_val(args[0]) if name != "addmm" else xv, wv)
        )
        op.macs = pb(macs)
        op.digital_ops = 2 * op.macs + (op.output_elems if has_bias else 0)
        if w is not None:
            op.weight, op.weight_shape = w[0], w[1]
            op.reason = "batched static weight (3-D or more) is not mapped to arrays"
        return op

    # -- attention kernels: two activation products and a softmax -----------------------------
    if name in ATTENTION_OPS:
        q, k, v = (_val(a) for a in args[:3])
        bh = math.prod(int(s) for s in q.shape[:-2])
        lq, e = int(q.shape[-2]), int(q.shape[-1])
        lk, ev = int(k.shape[-2]), int(v.shape[-1])
        scores = bh * lq * lk
        op.op = "attention"
        op.macs = pb(scores * (e + ev))
        op.digital_ops = 2 * op.macs + pb(scores) * (OPS_PER_ELEM["softmax"] + 1)
        op.output_elems = pb(_numel(out if not isinstance(out, (tuple, list)) else out[0]))
        return op

    # -- everything else runs on the digital unit ---------------------------------------------
    if name == "embedding":
        op.op = "embedding"
        wv = _val(args[0])
        op.weight_shape = tuple(int(s) for s in wv.shape)
        op.weight = root.get(args[0], "") if isinstance(args[0], torch.fx.Node) else ""
        op.input_elems = pb(_numel(_val(args[1])))
        op.digital_ops = 0  # a table look-up
        return op
    if name in POOL_OPS:
        op.op = "pool"
        if name.startswith("adaptive") or name.startswith("_adaptive"):
            op.digital_ops = op.input_elems + op.output_elems
        else:
            ks = args[1] if len(args) > 1 else kwargs.get("kernel_size")
            ks = [int(ks)] if isinstance(ks, int) else [int(s) for s in ks]
            n_out = _numel(out if not isinstance(out, (tuple, list)) else out[0])
            op.output_elems = pb(n_out)
            op.digital_ops = pb(n_out * math.prod(ks))
        return op
    if name in REDUCE_OPS:
        op.digital_ops = op.input_elems
        return op
    per = OPS_PER_ELEM.get(name, 1)
    n_out = _numel(out if not isinstance(out, (tuple, list)) else out[0])
    op.output_elems = pb(n_out)
    op.digital_ops = pb(n_out) * per
    op.op = {
        "_softmax": "softmax",
        "native_layer_norm": "layer_norm",
        "_log_softmax": "log_softmax",
        "_native_batch_norm_legit_no_training": "batch_norm",
        "native_batch_norm": "batch_norm",
        "native_group_norm": "group_norm",
    }.get(name, name)
    return op


def _val_root_shape(wnode: Any, root: dict[Any, str], wv: torch.Tensor) -> tuple[int, ...]:
    """Shape of the stored parameter a static operand views (falls back to the operand's)."""
    n = wnode
    while isinstance(n, torch.fx.Node) and n.op == "call_function":
        leaves, _ = tree_flatten(n.args)
        nxt = [a for a in leaves if isinstance(a, torch.fx.Node) and a in root]
        if not nxt:
            break
        n = nxt[0]
    v = _val(n) if isinstance(n, torch.fx.Node) else None
    return tuple(v.shape) if isinstance(v, torch.Tensor) else tuple(wv.shape)


def _matmul_macs(a: torch.Tensor, b: torch.Tensor) -> int:
    """MACs of ``torch.matmul(a, b)`` with broadcasting (1-D operands as in torch)."""
    if a.dim() == 1 and b.dim() == 1:
        return int(a.shape[0])
    if a.dim() == 1:
        return int(b.numel())
    if b.dim() == 1:
        return int(a.numel())
    batch = torch.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    return math.prod(batch) * int(a.shape[-2]) * int(a.shape[-1]) * int(b.shape[-1])


def _einsum_macs(eq: str, tensors: list[torch.Tensor]) -> int:
    """MACs of an einsum: product of the sizes of all distinct indices."""
    lhs = eq.replace(" ", "").split("->")[0].split(",")
    sizes: dict[str, int] = {}
    for spec, t in zip(lhs, tensors):
        spec = spec.replace("...", "")
        for ch, s in zip(spec[::-1], reversed(t.shape)):
            sizes[ch] = int(s)
    return math.prod(sizes.values()) if sizes else 0
