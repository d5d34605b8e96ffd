"""--train-vjp: derives the backward function (vector-Jacobian product) of a forward function.

    @<forward>_primal(args...) -> (results..., saved...)
    @<forward>_vjp(saved..., grad results...) -> (grad args...)

The primal function is the forward function returning, after its own results, the
activations the backward function needs (so the backward never recomputes the
forward). The vjp function takes those saved values (forward arguments it reads are
passed as they are) and the gradient of each result that depends on an argument being
differentiated, and returns the gradient of each such argument that reaches a result.
It is built by the same reverse sweep and per-op rules (gradient_rules.GRADIENTS) as
--train-autodiff, and contains no gradient work for values that do not lead to an
argument being differentiated (a frozen weight gets no `*_grad_weight`).

Attributes tie the functions together:
- vjp arguments: `vjp.saved_arg = i` (forward argument #i), `vjp.saved_result = j`
  (primal result #j), `vjp.grad_of_result = k` (the gradient of forward result #k);
- vjp results: `vjp.grad_of = i` (the gradient of forward argument #i). (The train
  dialect verifies every `train.*` attribute; these live in their own namespace.)

Options: `forward` (default "forward"); `wrt`: the arguments to differentiate —
"trainable" (default: arguments with `#train.role<trainable>`), "all" (every float
argument without `#train.role<frozen>`) or comma-separated argument indices;
`primal` and `vjp`: the new functions' names (default <forward>_primal, <forward>_vjp).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._mlir import ir
from .._mlir.dialects import func
from ..compiler.errors import PassError
from ..dialects import train
from .gradient_rules import GRADIENTS

SAVED_ARG = "vjp.saved_arg"
SAVED_RESULT = "vjp.saved_result"
GRAD_OF_RESULT = "vjp.grad_of_result"
GRAD_OF = "vjp.grad_of"


@dataclass
class TrainVjp:
    """Options: the forward function, the arguments to differentiate, and the names of
    the primal and vjp functions it adds."""

    forward: str = "forward"
    wrt: str = "trainable"
    primal: str = ""
    vjp: str = ""

    def run(self, module: ir.Module) -> None:
        forward = find_forward(module, self.forward)
        build_vjp(module, self.forward, parse_wrt(forward, self.wrt),
                  primal=self.primal or None, vjp=self.vjp or None)


@dataclass(frozen=True)
class Vjp:
    """What build_vjp made: the two functions' names and how their values map to the
    forward function's (all indices are forward argument / result indices)."""

    primal: str
    vjp: str
    grads: tuple[int, ...]          # the argument each vjp result is the gradient of
    grad_outputs: tuple[int, ...]   # the result each vjp gradient argument belongs to
    saved: tuple[tuple[str, int], ...]   # per saved vjp argument: ("arg" | "result", index)
    results: int                    # the forward function's result count


# --------------------------------------------------------------------------
# Reverse-mode machinery shared with --train-autodiff
# --------------------------------------------------------------------------

def clone_body(forward: func.FuncOp, values: dict, pass_name: str) -> list:
    """Re-creates the forward ops at the insertion point (`values` maps the forward
    arguments, and receives every cloned value); returns the mapped returned values."""
    for op in forward.entry_block.operations:
        if isinstance(op, func.ReturnOp):
            return [values[v] for v in op.operands]
        if len(op.regions) or len(op.successors):
            raise PassError(f"'{op.operation.name}' has regions or successors, which "
                            f"--{pass_name} does not support", str(op.location))
        clone = ir.Operation.create(
            op.operation.name, results=[r.type for r in op.results],
            operands=[values[v] for v in op.operands],
            attributes=dict(op.attributes.items()), loc=op.location)
        for old, new in zip(op.results, clone.results):
            values[old] = new
    raise PassError("forward function has no return", str(forward.location))


def depends_on(block: ir.Block, sources) -> set:
    """Values of `block` computed from any of `sources` (the sources included)."""
    needed = set(sources)
    for op in block.operations:
        if any(v in needed for v in op.operands):
            needed.update(op.results)
    return needed


def reverse_sweep(forward: func.FuncOp, values: dict, seeds: dict, needed: set) -> dict:
    """Reverse-mode sweep over the forward ops; `seeds` maps forward values to the
    gradients flowing into them, `values` forward values to their clones (which the
    rules read). Builds only gradients of values in `needed`; returns the gradient of
    each forward argument reached."""
    pending = {value: list(grads) for value, grads in seeds.items()}
    for op in reversed(list(forward.entry_block.operations)):
        if isinstance(op, func.ReturnOp) or len(op.results) != 1:
            continue
        result = op.results[0]
        if result not in pending:
            continue
        with op.location:
            dy = accumulate(pending.pop(result))
            rule = GRADIENTS.get(op.operation.name)
            if rule is None:
                raise PassError(f"no gradient rule for '{op.operation.name}'",
                                str(op.location))
            wanted = [v in needed for v in op.operands]
            clone = values[result].owner.opview
            for operand, grad in zip(op.operands, rule(clone, dy, wanted)):
                if grad is not None:
                    pending.setdefault(operand, []).append(grad)
    grads = {}
    for arg in forward.entry_block.arguments:
        if arg in pending:
            with forward.location:
                grads[arg] = accumulate(pending.pop(arg))
    return grads


def accumulate(grads: list) -> ir.Value:
    """The sum of the gradients reaching one value (one per use)."""
    total = grads[0]
    for grad in grads[1:]:
        total = train.add(total, grad)
    return total


# --------------------------------------------------------------------------
# The pass
# --------------------------------------------------------------------------

def find_forward(module: ir.Module, name: str) -> func.FuncOp:
    for op in module.body.operations:
        if isinstance(op, func.FuncOp) and op.sym_name.value == name:
            return op
    raise PassError(f"no function @{name} to differentiate", str(module.operation.location))


def parse_wrt(forward: func.FuncOp, wrt: str) -> list[int]:
    """The argument indices the `wrt` option names."""
    count = len(forward.entry_block.arguments)
    if wrt == "trainable":
        return [i for i in range(count) if train.arg_role(forward, i) == "trainable"]
    if wrt == "all":
        return [i for i in range(count) if train.arg_role(forward, i) != "frozen"
                and _is_float(forward.entry_block.arguments[i].type)]
    indices = []
    for item in (part.strip() for part in wrt.split(",")):
        if not item.lstrip("-").isdigit():
            raise PassError(f"wrt must be 'trainable', 'all' or argument indices, got '{wrt}'",
                            str(forward.location))
        indices.append(int(item))
    return indices


def differentiable_results(forward: func.FuncOp, wrt) -> list[int]:
    """The indices of the results of `forward` that depend on an argument in `wrt`."""
    body = forward.entry_block
    needed = depends_on(body, [body.arguments[i] for i in wrt])
    outputs = body.operations[len(body.operations) - 1].operands
    return [k for k, value in enumerate(outputs) if value in needed]


def _is_float(value_type: ir.Type) -> bool:
    return (isinstance(value_type, ir.RankedTensorType)
            and isinstance(ir.RankedTensorType(value_type).element_type, ir.FloatType))


def build_vjp(module: ir.Module, forward_name: str, wrt, *, primal: str | None = None,
              vjp: str | None = None) -> Vjp:
    """Adds @<forward>_primal and @<forward>_vjp for the gradients of the arguments
    `wrt` (indices) to `module`; returns how they map to the forward function."""
    forward = find_forward(module, forward_name)
    names = (primal or f"{forward_name}_primal", vjp or f"{forward_name}_vjp")
    existing = {op.sym_name.value: op for op in module.body.operations
                if isinstance(op, func.FuncOp)}
    for name in names:
        if name in existing:
            raise PassError(f"function @{name} already exists", str(existing[name].location))
    wrt = _check_wrt(forward, wrt)
    with ir.InsertionPoint(module.body), forward.location:
        return _VjpBuilder(forward, wrt, *names).build()


def _check_wrt(forward: func.FuncOp, wrt) -> list[int]:
    args = forward.entry_block.arguments
    for index in wrt:
        if not 0 <= index < len(args):
            raise PassError(f"@{forward.sym_name.value} has no argument #{index} to "
                            f"differentiate ({len(args)} arguments)", str(forward.location))
        if not _is_float(args[index].type):
            raise PassError(f"argument #{index} ({train.arg_name(forward, index)}) of "
                            f"@{forward.sym_name.value} is {args[index].type}, not a float "
                            "tensor: it has no gradient", str(forward.location))
    return sorted(set(wrt))


class _VjpBuilder:
    """Builds the primal and vjp functions of one forward function."""

    def __init__(self, forward: func.FuncOp, wrt: list[int], primal: str, vjp: str):
        self.forward = forward
        self.wrt = wrt
        self.names = (primal, vjp)
        self.body = forward.entry_block
        self.args = list(self.body.arguments)
        self.outputs = list(self.body.operations[len(self.body.operations) - 1].operands)
        self.needed = depends_on(self.body, [self.args[i] for i in wrt])
        self.differentiable = [k for k, v in enumerate(self.outputs) if v in self.needed]
        if not self.differentiable:
            raise PassError(f"no result of @{forward.sym_name.value} depends on the arguments "
                            f"to differentiate ({_list(wrt)})", str(forward.location))
        for k in self.differentiable:
            if not _is_float(self.outputs[k].type):
                raise PassError(f"result #{k} of @{forward.sym_name.value} is "
                                f"{self.outputs[k].type}, not a float tensor",
                                str(forward.location))

    def build(self) -> Vjp:
        scratch, grads, originals = self._differentiate()
        backward = self._backward_ops(scratch, originals)
        saved = self._saved_values(scratch, originals, backward)
        grad_args = [i for i, arg in enumerate(self.args) if arg in grads]
        primal_results = self._build_primal([originals[v] for v in saved
                                             if originals[v] not in self.args])
        slots = []
        for value in saved:
            original = originals[value]
            if original in self.args:
                slots.append(("arg", self.args.index(original)))
            else:
                slots.append(("result", primal_results[original]))
        self._build_vjp(scratch, backward, saved, slots, grad_args)
        return Vjp(self.names[0], self.names[1], tuple(grad_args), tuple(self.differentiable),
                   tuple(slots), len(self.outputs))

    def _differentiate(self):
        """A scratch function (forward args, grad results) -> grads: the forward cloned,
        then the reverse sweep. Returns it, the gradients by forward argument, and the
        forward value of each cloned value (arguments included)."""
        types = [a.type for a in self.args] + [self.outputs[k].type for k in self.differentiable]
        scratch = func.FuncOp(self.names[1] + ".scratch", ir.FunctionType.get(types, []))
        block = scratch.add_entry_block()
        with ir.InsertionPoint(block):
            values = dict(zip(self.args, block.arguments))
            clone_body(self.forward, values, "train-vjp")
            douts = block.arguments[len(self.args):]
            seeds: dict = {}
            for k, dout in zip(self.differentiable, douts):
                seeds.setdefault(self.outputs[k], []).append(dout)
            grads = reverse_sweep(self.forward, values, seeds, self.needed)
            func.ReturnOp([grads[a] for a in self.args if a in grads])
        originals = {clone: original for original, clone in values.items()}
        return scratch, grads, originals

    @staticmethod
    def _backward_ops(scratch: func.FuncOp, originals: dict) -> list:
        """The ops of `scratch` that are not forward clones (the return included), and
        the forward constants they use, in order."""
        backward, constants = set(), set()
        for op in scratch.entry_block.operations:
            if not any(r in originals for r in op.results):
                backward.add(op.operation)
                for v in op.operands:
                    if v in originals and isinstance(v, ir.OpResult) \
                            and len(v.owner.operands) == 0:
                        constants.add(v.owner.operation)
        return [op.operation for op in scratch.entry_block.operations
                if op.operation in backward or op.operation in constants]

    @staticmethod
    def _saved_values(scratch: func.FuncOp, originals: dict, backward: list) -> list:
        """The forward values (cloned in `scratch`) that the backward ops read, in
        forward order: arguments first, then op results. Constants are not saved: they
        move to the vjp function with the backward ops."""
        moved = set(backward)
        used = set()
        for op in backward:
            used.update(v for v in op.operands if v in originals
                        and not (isinstance(v, ir.OpResult) and v.owner.operation in moved))
        block = scratch.entry_block
        saved = [a for a in block.arguments if a in used]
        for op in block.operations:
            saved += [r for r in op.results if r in used]
        return saved

    def _build_primal(self, extra: list) -> dict:
        """@primal: the forward ops returning the results and then `extra`; returns the
        primal result index of each saved forward value."""
        indices = {}
        results = list(self.outputs)
        for value in extra:
            if value in results:
                indices[value] = results.index(value)
            else:
                indices[value] = len(results)
                results.append(value)
        arg_types = [a.type for a in self.args]
        primal = func.FuncOp(self.names[0],
                             ir.FunctionType.get(arg_types, [v.type for v in results]))
        if "arg_attrs" in self.forward.attributes:
            primal.attributes["arg_attrs"] = self.forward.attributes["arg_attrs"]
        res_attrs = [train.result_attrs(self.forward, k) or ir.DictAttr.get({})
                     for k in range(len(self.outputs))]
        res_attrs += [ir.DictAttr.get({train.NAME: ir.StringAttr.get(f"saved{i}")})
                      for i in range(len(results) - len(self.outputs))]
        primal.attributes["res_attrs"] = ir.ArrayAttr.get(res_attrs)
        block = primal.add_entry_block()
        terminator = self.body.operations[len(self.body.operations) - 1]
        with ir.InsertionPoint(block):
            values = dict(zip(self.args, block.arguments))
            clone_body(self.forward, values, "train-vjp")
            func.ReturnOp([values[v] for v in results], loc=terminator.location)
        return indices

    def _build_vjp(self, scratch: func.FuncOp, backward: list, saved: list, slots: list,
                   grad_args: list) -> None:
        """@vjp: the backward ops of `scratch` moved into a function of (saved values,
        result gradients); `scratch` is erased."""
        douts = list(scratch.entry_block.arguments[len(self.args):])
        i64 = ir.IntegerType.get_signless(64)
        types = [v.type for v in saved] + [d.type for d in douts]
        vjp = func.FuncOp(self.names[1], ir.FunctionType.get(
            types, [self.args[i].type for i in grad_args]))
        arg_attrs = [ir.DictAttr.get({SAVED_ARG if kind == "arg" else SAVED_RESULT:
                                      ir.IntegerAttr.get(i64, index)})
                     for kind, index in slots]
        arg_attrs += [ir.DictAttr.get({GRAD_OF_RESULT: ir.IntegerAttr.get(i64, k)})
                      for k in self.differentiable]
        vjp.attributes["arg_attrs"] = ir.ArrayAttr.get(arg_attrs)
        vjp.attributes["res_attrs"] = ir.ArrayAttr.get([ir.DictAttr.get({
            train.NAME: ir.StringAttr.get(f"grad({train.arg_name(self.forward, i)})"),
            GRAD_OF: ir.IntegerAttr.get(i64, i)}) for i in grad_args])
        block = vjp.add_entry_block()
        for op in backward:
            block.append(op.detach_from_parent())
        for old, new in zip(saved + douts, block.arguments):
            old.replace_all_uses_with(new)
        scratch.operation.erase()


def _list(indices) -> str:
    return ", ".join(f"#{i}" for i in indices) or "none"
