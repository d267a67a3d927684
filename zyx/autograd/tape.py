"""``GradientTape``: record primitive operations while open, differentiate any of them.

How recording works. Every primitive Tensor method (``zyx/tensor.py``) calls each
function in ``zyx.tensor._recorders`` with ``(out, op, inputs, arg)``. A tape appends its
recorder when it opens and removes it when it ends. The recorder keeps, for each output
*graph node*, the op, its argument and the input nodes: exactly what the backward rules
in ``rules.py`` need, nothing else.

Why nodes and not Tensors. ``x[i] = v`` rebinds the Tensor ``x`` to a new node, so a
Tensor stands for different values over time; a node is one value forever (realizing a
node turns it into a buffer in place, keeping its identity). ``Tensor.detach()`` therefore
returns a tensor on a *new* node the tape has never seen.

Memory. Records are keyed weakly by their output node: a record whose output no live
tensor or later record can reach drops out by itself, releasing its inputs. When the
tape ends (``gradient()``, ``close()``, leaving its ``with`` block, or being garbage
collected) it forgets every record, so nothing kept only for backward stays alive.

Backward graphs are ordinary lazy graphs: ``gradient()`` runs nothing, and the gradient
fuses into kernels like any other expression when it is realized.
"""
from __future__ import annotations

import weakref
from typing import Callable, Sequence

from .. import graph
from .. import tensor as _tensor
from ..creation import ones
from ..graph import Node
from ..tensor import Tensor
from .rules import RULES

# a record: (op, input nodes, arg)
_Record = tuple


def _make_recorder(records: "weakref.WeakKeyDictionary[Node, _Record]") -> Callable:
    """The hook a tape installs. It closes over the records only (not the tape), so a
    tape nobody references can be collected and its finalizer can uninstall it."""

    def record(out: Tensor, op: str, inputs: tuple, arg) -> None:
        node = out._node
        if not node.dtype.is_inexact:
            return  # integer and boolean values carry no gradient
        in_nodes = tuple(t._node for t in inputs)
        for n in in_nodes:
            if node is n or any(node is s for s in n.srcs):
                # the graph simplified the op away (reshape of a reshape back to the
                # original shape returns the original node): give the result its own
                # node, or the tape would see a cycle
                node = graph.alias(node)
                out._node = node
                break
        if node not in records:
            records[node] = (op, in_nodes, arg)
    return record


def _uninstall(recorder: Callable) -> None:
    _ended.add(recorder)  # so that a no_grad() block around the end does not put it back
    try:
        _tensor._recorders.remove(recorder)
    except ValueError:
        pass


_ended: "weakref.WeakSet[Callable]" = weakref.WeakSet()


class GradientTape:
    """Records the primitive operations made while it is open, to differentiate them.

    ::

        x = zyx.Tensor.randn((8, 64, 64)); b = zyx.zeros((64,))
        with zyx.GradientTape() as tape:
            z = (x @ x + b).gelu()
            (gb,) = tape.gradient_persistent(z, [b])   # tape stays open
            (gbb,) = tape.gradient(gb, [b])            # second order; ends the tape

    The tape records from construction (``tape = GradientTape()`` works without
    ``with``) until it ends: at ``gradient()``, ``close()``, or the end of its ``with``
    block. Tensors made before it opened are constants to it, but can still be sources:
    ``b`` above. Tapes nest; each records independently, and an outer tape records the
    gradient computations of an inner one (so it can differentiate them again).
    Operations inside ``zyx.no_grad()`` and results of ``Tensor.detach()`` are constants.
    """

    def __init__(self) -> None:
        self._records: "weakref.WeakKeyDictionary[Node, _Record]" = weakref.WeakKeyDictionary()
        self._recorder = _make_recorder(self._records)
        self._open = True
        _tensor._recorders.append(self._recorder)
        self._finalizer = weakref.finalize(self, _uninstall, self._recorder)

    # ------------------------------------------------------------------ lifetime
    def __enter__(self) -> "GradientTape":
        if not self._open:
            raise RuntimeError("this GradientTape has already ended; create a new one")
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def close(self) -> None:
        """End the tape: stop recording and forget every record. Safe to call twice."""
        self._end().clear()

    def _end(self) -> "weakref.WeakKeyDictionary[Node, _Record]":
        """Stop recording and hand over the records (the tape keeps no reference)."""
        records = self._records
        if self._open:
            self._open = False
            _uninstall(self._recorder)
            self._finalizer.detach()
            self._recorder = None
            self._records = weakref.WeakKeyDictionary()
        return records

    @property
    def recording(self) -> bool:
        """True while the tape is open (it may still be paused by ``zyx.no_grad()``)."""
        return self._open

    def __len__(self) -> int:
        """The number of live recorded operations."""
        return len(self._records)

    def __repr__(self) -> str:
        state = f"open, {len(self._records)} ops" if self._open else "ended"
        return f"GradientTape({state})"

    # ------------------------------------------------------------------ gradients
    def gradient(self, target: Tensor, sources: Sequence[Tensor], *,
                 output_gradient: Tensor | None = None) -> list[Tensor | None]:
        """Gradients of ``target`` with respect to each of ``sources``, then end the tape.

        Returns one entry per source, with the source's shape and dtype, or ``None`` when
        ``target`` does not depend on that source through differentiable operations
        (integer and boolean sources always get ``None``). Sources may be any tensors the
        recorded operations used or produced: inputs made before the tape, intermediate
        results, slices.

        For a non-scalar ``target`` the result is the vector-Jacobian product with
        ``output_gradient`` (same shape as ``target``); it defaults to ones, i.e. the
        gradient of ``target.sum()``.

        The gradient is lazy: nothing runs until it is realized. The gradient
        computation itself is not recorded by this tape (it has ended) but is recorded
        by any other open tape, which can differentiate it again.
        """
        self._check_open("gradient")
        records = self._end()
        try:
            return _backward(records, target, sources, output_gradient)
        finally:
            records.clear()

    def gradient_persistent(self, target: Tensor, sources: Sequence[Tensor], *,
                            output_gradient: Tensor | None = None) -> list[Tensor | None]:
        """Like ``gradient()``, but the tape stays open and records the gradient
        computation itself, so the returned gradients can be differentiated again (to
        any order) with this tape."""
        self._check_open("gradient_persistent")
        return _backward(self._records, target, sources, output_gradient)

    def _check_open(self, what: str) -> None:
        if not self._open:
            raise RuntimeError(f"GradientTape.{what}(): this tape has already ended (gradient() or the end of "
                               "its 'with' block ends a tape and frees what it recorded). Use "
                               "gradient_persistent() to take several gradients, or record again with a new tape.")


def _backward(records, target: Tensor, sources: Sequence[Tensor],
              output_gradient) -> list[Tensor | None]:
    if not isinstance(target, Tensor):
        raise TypeError(f"gradient: the target must be a zyx.Tensor, not {type(target).__name__}")
    if isinstance(sources, Tensor):
        raise TypeError("gradient: sources must be a sequence of tensors (wrap a single one in a list)")
    sources = list(sources)
    for s in sources:
        if not isinstance(s, Tensor):
            raise TypeError(f"gradient: every source must be a zyx.Tensor, not {type(s).__name__}")
    if not target.dtype.is_inexact:
        raise TypeError(f"gradient: the target has dtype {target.dtype.name}; only floating-point and complex "
                        "targets can be differentiated")
    seed = _seed(target, output_gradient)

    root = target._node
    wanted = {id(s._node) for s in sources if s.dtype.is_inexact}
    order = _topological(records, root)
    # which nodes lie on a differentiable path to a wanted source
    leads: dict[int, bool] = {}
    for n in order:
        rec = records.get(n)
        leads[id(n)] = id(n) in wanted or (rec is not None and any(
            leads.get(id(i), False) and i.dtype.is_inexact for i in rec[1]))
    grads: dict[int, Tensor] = {}
    if leads[id(root)]:
        grads[id(root)] = seed
    for n in reversed(order):
        g = grads.get(id(n))
        rec = records.get(n)
        if g is None or rec is None:
            continue
        op, in_nodes, arg = rec
        needs = [leads.get(id(i), False) and i.dtype.is_inexact for i in in_nodes]
        if not any(needs):
            continue
        rule = RULES.get(op)
        if rule is None:
            raise NotImplementedError(f"zyx autograd has no backward rule for the primitive {op}")
        inputs = tuple(Tensor._wrap(i) for i in in_nodes)
        results = rule(g, inputs, Tensor._wrap(n), arg)
        for i, need, r in zip(in_nodes, needs, results):
            if not need or r is None:
                continue
            r = _fit(r() if callable(r) else r, i, op)
            prev = grads.get(id(i))
            grads[id(i)] = r if prev is None else prev + r
    out: list[Tensor | None] = []
    for s in sources:
        g = grads.get(id(s._node)) if s.dtype.is_inexact else None
        out.append(g)
    return out


def _seed(target: Tensor, output_gradient) -> Tensor:
    if output_gradient is None:
        return ones(target.shape, dtype=target.dtype, device=target.device)
    g = output_gradient if isinstance(output_gradient, Tensor) else Tensor(output_gradient, device=target.device)
    if g.shape != target.shape:
        try:
            g = g.broadcast_to(target.shape)
        except ValueError:
            raise ValueError(f"gradient: output_gradient has shape {g.shape}, the target has shape "
                             f"{target.shape}") from None
    return g.cast(target.dtype) if g.dtype is not target.dtype else g


def _topological(records, root: Node) -> list[Node]:
    """Recorded nodes reachable from ``root``, inputs before outputs."""
    order: list[Node] = []
    done: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        n, expanded = stack.pop()
        if id(n) in done:
            continue
        rec = records.get(n)
        if expanded or rec is None:
            done.add(id(n))
            order.append(n)
            continue
        stack.append((n, True))
        for i in rec[1]:
            if id(i) not in done:
                stack.append((i, False))
    return order


def _fit(g: Tensor, node: Node, op: str) -> Tensor:
    """Make a rule's result match its input exactly (dtype drift from scalars)."""
    if g.shape != node.shape:
        raise RuntimeError(f"internal error in zyx autograd: the backward rule of {op} produced a gradient of "
                           f"shape {g.shape} for an input of shape {node.shape}")
    if g.dtype is not node.dtype:
        if g.dtype.is_complex and not node.dtype.is_complex:
            g = g.real
        g = g.cast(node.dtype)
    return g


def is_recording() -> bool:
    """Whether operations made now are recorded by some tape (one is open and not paused
    by ``no_grad``)."""
    return bool(_tensor._recorders)


def composite(forward: Callable, backward: Callable, *inputs: Tensor, arg=None) -> Tensor:
    """``forward(*inputs)``, recorded by every open tape as one operation whose gradient
    is ``backward(g, inputs, out, arg)`` (the signature of the rules in ``rules.py``).

    For composites whose decomposition into primitives differentiates badly: a
    convolution's input gradient through its window view would be a scatter over
    overlapping windows; as a composite it is a transposed convolution. ``backward``
    is written with ordinary Tensor operations, so it is recorded in turn and
    higher-order gradients work. Outside any tape this is just ``forward(*inputs)``."""
    if not callable(forward) or not callable(backward):
        raise TypeError("composite(forward, backward, *inputs): forward and backward must be callables")
    for x in inputs:
        if not isinstance(x, Tensor):
            raise TypeError(f"composite: every input must be a zyx.Tensor, not {type(x).__name__}")
    if not is_recording():
        out = forward(*inputs)
    else:
        with no_grad():
            out = forward(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"composite: forward must return a zyx.Tensor, not {type(out).__name__}")
    if _tensor._recorders:
        _tensor._record(out, "COMPOSITE", tuple(inputs), (backward, arg))
    return out


class no_grad:
    """Context manager (and decorator): operations inside are recorded by no tape.

    ::

        with zyx.no_grad():
            w -= lr * grad      # an update the tape must not see
    """

    def __enter__(self) -> "no_grad":
        self._saved = list(_tensor._recorders)
        _tensor._recorders.clear()
        return self

    def __exit__(self, *exc) -> bool:
        # tapes opened inside stay installed; tapes that ended inside stay ended
        opened_inside = list(_tensor._recorders)
        still_open = [r for r in self._saved if r not in _ended]
        _tensor._recorders[:] = still_open + [r for r in opened_inside if r not in still_open]
        return False

    def __call__(self, fn: Callable) -> Callable:
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)
        return wrapper

