"""Optimizers: SGD, Adam, AdamW, RMSprop, Adagrad - the update rules of ``torch.optim``.

Usage::

    opt = zyx.optim.Adam(model.parameters(), lr=1e-3)
    with zyx.GradientTape() as tape:
        loss = loss_fn(model(x), y)
        grads = tape.gradient(loss, model.parameters())
    opt.step(grads)            # or opt.update(model, grads)

There is no ``zero_grad``: gradients are values the tape returns, passed in parameter
order (``None`` skips a parameter). Updates happen *in place* on the parameter tensor
objects - each one's graph node is rebound to its new value, as ``x[i] = v`` does - so a
model holding the tensors sees the new values. Optimizer state lives in tensors the same
way.

Why steps compile nothing after the first. A kernel's source bakes in the constants of
its graph, and the schedule cache keys on graph structure including those constants.
So every hyperparameter that enters the update - learning rate, betas, eps, weight
decay, their complements (``1 - beta``, computed in double on the host, as PyTorch does)
- is a 0-d tensor, uploaded again only when its Python value changes (a learning-rate
schedule changes the data, not the kernels). Step-dependent factors (Adam's bias
corrections, Adagrad's decay) are computed inside the kernel from a step-count tensor.
State starts as realized zero buffers, so the first step has the same graph structure as
every later one.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import dtypes as dt
from .._math import where
from ..autograd import no_grad
from ..tensor import Tensor, realize


class Optimizer:
    """Base class: parameter groups, hyperparameter tensors, state, (de)serialization.

    ``params`` is an iterable of tensors, of parameter-group dicts (``{"params": [...],
    "lr": ...}`` - other keys default to the constructor's values), or a ``zyx.nn.Module``
    (its ``parameters()``)."""

    #: names of per-parameter state tensors, in PyTorch's spelling
    _state_names: tuple[str, ...] = ()

    def __init__(self, params: Any, defaults: dict):
        self.defaults = dict(defaults)
        if hasattr(params, "parameters") and callable(params.parameters):
            params = params.parameters()
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of tensors (or of parameter-group dicts), not a Tensor")
        params = list(params)
        if not params:
            raise ValueError("the optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups: list[dict] = []
        seen: set[int] = set()
        for g in groups:
            if not isinstance(g, dict):
                raise TypeError("mixing tensors and parameter-group dicts in params is not supported")
            group = dict(self.defaults)
            group.update(g)
            group["params"] = list(g["params"]) if not isinstance(g["params"], Tensor) else [g["params"]]
            for p in group["params"]:
                if not isinstance(p, Tensor):
                    raise TypeError(f"optimizer parameters must be zyx.Tensors, not {type(p).__name__}")
                if not p.dtype.is_float:
                    raise TypeError(f"optimizer parameters must be floating point, got {p.dtype.name}")
                if id(p) in seen:
                    raise ValueError("a parameter appears more than once in the optimizer's parameters")
                seen.add(id(p))
            self._check_hyper(group)
            self.param_groups.append(group)
        self._params = [p for g in self.param_groups for p in g["params"]]
        self._hyper_cache: dict[tuple, tuple[float, Tensor]] = {}
        dev = self._params[0].device
        self._count_dtype = dt.int64 if dev.supports(dt.int64) else dt.int32
        self._step_t = Tensor(np.zeros((), dtype=self._count_dtype.np), device=dev)
        self.state: list[dict[str, Tensor]] = [
            {name: Tensor(np.full(p.shape, self._state_init(name, g), dtype=p.dtype.np), device=p.device)
             for name in self._state_names_for(g)}
            for g in self.param_groups for p in g["params"]]
        realize(self)  # parameters and state start as buffers: step 1 has step 2's structure

    # ------------------------------------------------------------------ to override
    def _check_hyper(self, group: dict) -> None:
        if group["lr"] < 0:
            raise ValueError(f"invalid learning rate {group['lr']}")

    def _state_names_for(self, group: dict) -> tuple[str, ...]:
        return self._state_names

    def _state_init(self, name: str, group: dict) -> float:
        return 0.0

    def _hyper_values(self, group: dict) -> dict[str, float]:
        """The scalars the update reads, computed in double precision on the host."""
        raise NotImplementedError

    def _group_scalars(self, h: dict[str, Tensor], group: dict, step: Tensor) -> dict[str, Tensor]:
        """0-d values every parameter of a group uses (of one dtype), computed once per step
        and passed to ``_update`` in ``h`` beside the hyperparameters."""
        return {}

    def _update(self, p: Tensor, g: Tensor, state: dict[str, Tensor], h: dict[str, Tensor], group: dict,
                step: Tensor) -> Tensor:
        """The new value of ``p``; updates ``state`` entries by rebinding. ``step`` is the
        1-based step number as a float tensor."""
        raise NotImplementedError

    # ------------------------------------------------------------------ hyperparameters
    def _hypers(self, gi: int, group: dict) -> dict[str, Tensor]:
        p0 = group["params"][0]
        out = {}
        for name, value in self._hyper_values(group).items():
            key = (gi, name)
            hit = self._hyper_cache.get(key)
            if hit is None or hit[0] != value:
                t = Tensor(np.asarray(value, dtype=p0.dtype.np), device=p0.device)
                self._hyper_cache[key] = hit = (value, t)
            out[name] = hit[1]
        return out

    @property
    def lr(self) -> float:
        """The first group's learning rate; setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        for g in self.param_groups:
            g["lr"] = float(value)

    # ------------------------------------------------------------------ stepping
    def step(self, grads: Sequence[Tensor | None], *, realize: bool = True) -> None:
        """Apply one update with ``grads`` in parameter order (``None`` skips a parameter).

        With ``realize`` (default) the new parameters and state are computed at once, in
        one schedule. Pass ``realize=False`` to realize them later together with other
        tensors - ``zyx.realize(loss, model, opt)`` - which also keeps the graph from
        growing across steps."""
        grads = list(grads) if not isinstance(grads, Tensor) else [grads]
        if len(grads) != len(self._params):
            raise ValueError(f"step() got {len(grads)} gradients for {len(self._params)} parameters; pass them in "
                             "parameter order (None for a parameter without one)")
        with no_grad():
            count = self._step_t + 1
            step = count.cast(dt.float32)
            i = 0
            for gi, group in enumerate(self.param_groups):
                h = self._hypers(gi, group)
                per_dtype: dict = {}  # the hyperparameters and step cast once per dtype in the group
                for p in group["params"]:
                    g = grads[i]
                    state = self.state[i]
                    i += 1
                    if g is None:
                        continue
                    if not isinstance(g, Tensor):
                        raise TypeError(f"gradient {i - 1} is a {type(g).__name__}, not a zyx.Tensor")
                    if g.shape != p.shape:
                        raise ValueError(f"gradient {i - 1} has shape {g.shape}, its parameter has shape {p.shape}")
                    if g.device != p.device:
                        raise ValueError(f"gradient {i - 1} is on {g.device}, its parameter on {p.device}")
                    g = g.cast(p.dtype) if g.dtype is not p.dtype else g
                    if p.dtype not in per_dtype:
                        hp = {k: (v.cast(p.dtype) if v.dtype is not p.dtype else v) for k, v in h.items()}
                        stp = step.cast(p.dtype)
                        hp.update(self._group_scalars(hp, group, stp))
                        per_dtype[p.dtype] = (hp, stp)
                    hp, stp = per_dtype[p.dtype]
                    new = self._update(p, g, state, hp, group, stp)
                    p._node = new.cast(p.dtype)._node
            self._step_t._node = count._node
        if realize:
            from ..tensor import realize as _realize
            _realize(self)

    def update(self, model: Any, grads: Sequence[Tensor | None]) -> None:
        """``step(grads)`` and realize the model (its parameters *and* buffers, e.g.
        BatchNorm statistics) with the optimizer state, in one schedule."""
        self.step(grads, realize=False)
        realize(model, self)

    @property
    def steps(self) -> int:
        """How many steps were taken (reads the step-count tensor)."""
        return int(self._step_t.item())

    def _zyx_tensors(self) -> list[Tensor]:
        """Parameters, state and the step count: ``zyx.realize(model, opt)`` takes them."""
        out = list(self._params)
        for s in self.state:
            out.extend(s.values())
        out.append(self._step_t)
        return out

    # ------------------------------------------------------------------ serialization
    def state_dict(self) -> dict:
        """``{"state": {i: {name: tensor, "step": tensor}}, "param_groups": [...]}`` in
        PyTorch's layout (parameters by index). Tensors are snapshots of the current values."""
        state = {}
        for i, s in enumerate(self.state):
            entry = {k: Tensor._wrap(v._node) for k, v in s.items()}
            entry["step"] = Tensor._wrap(self._step_t._node)
            state[i] = entry
        groups, start = [], 0
        for g in self.param_groups:
            d = {k: v for k, v in g.items() if k != "params"}
            d["params"] = list(range(start, start + len(g["params"])))
            start += len(g["params"])
            groups.append(d)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore ``state_dict()`` output (also PyTorch's optimizer state dicts of the same
        algorithm, with tensors convertible by ``np.asarray``). Checks group and parameter
        counts and state shapes (ValueError) before changing anything."""
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("load_state_dict expects a dict with 'state' and 'param_groups'")
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"the state dict has {len(groups)} parameter groups, this optimizer "
                             f"{len(self.param_groups)}")
        for sg, g in zip(groups, self.param_groups):
            if len(sg["params"]) != len(g["params"]):
                raise ValueError(f"a parameter group of the state dict has {len(sg['params'])} parameters, the "
                                 f"optimizer's has {len(g['params'])}")
        index = [i for sg in groups for i in sg["params"]]
        updates = []
        step_value = None
        for pos, key in enumerate(index):
            saved = state_dict["state"].get(key, state_dict["state"].get(str(key)))
            if saved is None:
                continue
            for name, target in self.state[pos].items():
                if name not in saved:
                    raise ValueError(f"the state of parameter {key} lacks {name!r}")
                value = _to_tensor(saved[name], target)
                if value.shape != target.shape:
                    raise ValueError(f"state {name!r} of parameter {key} has shape {value.shape}, expected "
                                     f"{target.shape}")
                updates.append((target, value))
            if "step" in saved:
                step_value = int(np.asarray(_host(saved["step"])).reshape(()))
        for target, value in updates:
            target._node = value._node
        for sg, g in zip(groups, self.param_groups):
            for k, v in sg.items():
                if k != "params":
                    g[k] = tuple(v) if isinstance(v, list) else v
        if step_value is None and updates:
            step_value = max(self.steps, 1)  # saved state without a count (PyTorch's SGD): not a first step
        if step_value is not None:
            self._step_t._node = Tensor(np.asarray(step_value, dtype=self._count_dtype.np),
                                        device=self._step_t.device)._node
        realize(self)

    def __repr__(self) -> str:
        hypers = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({len(self._params)} parameters, {hypers})"


def _host(v: Any) -> np.ndarray:
    if isinstance(v, Tensor):
        return v.numpy()
    if hasattr(v, "detach"):
        return v.detach().cpu().numpy()
    return np.asarray(v)


def _to_tensor(v: Any, like: Tensor) -> Tensor:
    if isinstance(v, Tensor):
        t = v.to(like.device)
        return t.cast(like.dtype) if t.dtype is not like.dtype else Tensor._wrap(t._node)
    return Tensor(np.asarray(_host(v), dtype=like.dtype.np), device=like.device)


def _set(state: dict, name: str, value: Tensor) -> Tensor:
    state[name]._node = value.cast(state[name].dtype)._node
    return state[name]


def _bias_correction(beta_log: Tensor, step: Tensor) -> Tensor:
    """``1 - beta ** step`` = ``-expm1(step * log(beta))``: accurate even when beta is
    close to 1 (Adam's 0.999) at the first steps."""
    return -(step * beta_log).expm1()


# ---------------------------------------------------------------------- SGD
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (PyTorch's form: the first
    step's buffer is the gradient itself), dampening, Nesterov momentum, L2 weight decay
    and ``maximize``."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _check_hyper(self, group):
        super()._check_hyper(group)
        if group["momentum"] < 0 or group["weight_decay"] < 0:
            raise ValueError("momentum and weight_decay must be >= 0")

    def _state_names_for(self, group):
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _hyper_values(self, g):
        return {"lr": g["lr"], "momentum": g["momentum"], "one_minus_dampening": 1 - g["dampening"],
                "weight_decay": g["weight_decay"]}

    def _update(self, p, g, state, h, group, step):
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + p * h["weight_decay"]
        if "momentum_buffer" in state:
            prev = state["momentum_buffer"]
            buf = where(step == 1, g, prev * h["momentum"] + g * h["one_minus_dampening"])
            _set(state, "momentum_buffer", buf)
            g = g + buf * h["momentum"] if group["nesterov"] else buf
        return p - g * h["lr"]


# ---------------------------------------------------------------------- Adam / AdamW
class Adam(Optimizer):
    """Adam (Kingma & Ba) as ``torch.optim.Adam``: L2 ``weight_decay`` added to the
    gradient, ``amsgrad``, ``maximize``."""

    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _check_hyper(self, group):
        super()._check_hyper(group)
        b1, b2 = group["betas"]
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {group['betas']}")
        if group["eps"] < 0 or group["weight_decay"] < 0:
            raise ValueError("eps and weight_decay must be >= 0")

    def _state_names_for(self, group):
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group["amsgrad"] else ("exp_avg", "exp_avg_sq")

    def _hyper_values(self, g):
        b1, b2 = g["betas"]
        return {"lr": g["lr"], "one_minus_beta1": 1 - b1, "beta2": b2, "one_minus_beta2": 1 - b2,
                "log_beta1": math.log(b1) if b1 > 0 else -1e30, "log_beta2": math.log(b2) if b2 > 0 else -1e30,
                "eps": g["eps"], "weight_decay": g["weight_decay"],
                "decay_factor": 1 - g["lr"] * g["weight_decay"]}

    def _update(self, p, g, state, h, group, step):
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            if self._decoupled:
                p = p * h["decay_factor"]
            else:
                g = g + p * h["weight_decay"]
        m = state["exp_avg"]
        m = _set(state, "exp_avg", m + (g - m) * h["one_minus_beta1"])
        v = _set(state, "exp_avg_sq", state["exp_avg_sq"] * h["beta2"] + g * g * h["one_minus_beta2"])
        if group["amsgrad"]:
            v = _set(state, "max_exp_avg_sq", state["max_exp_avg_sq"].maximum(v))
        denom = v.sqrt() / h["bc2_sqrt"] + h["eps"]
        return p - m * h["step_size"] / denom

    def _group_scalars(self, h, group, step):
        return {"step_size": h["lr"] / _bias_correction(h["log_beta1"], step),
                "bc2_sqrt": _bias_correction(h["log_beta2"], step).sqrt()}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``:
    ``p *= 1 - lr * weight_decay`` before the Adam step; default weight_decay 0.01."""

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


# ---------------------------------------------------------------------- RMSprop
class RMSprop(Optimizer):
    """RMSprop as ``torch.optim.RMSprop``: ``alpha`` smoothing, ``centered`` variance,
    ``momentum``, L2 ``weight_decay``, ``maximize``."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _check_hyper(self, group):
        super()._check_hyper(group)
        if group["alpha"] < 0 or group["eps"] < 0 or group["momentum"] < 0 or group["weight_decay"] < 0:
            raise ValueError("alpha, eps, momentum and weight_decay must be >= 0")

    def _state_names_for(self, group):
        names = ("square_avg",)
        if group["momentum"] > 0:
            names += ("momentum_buffer",)
        if group["centered"]:
            names += ("grad_avg",)
        return names

    def _hyper_values(self, g):
        return {"lr": g["lr"], "alpha": g["alpha"], "one_minus_alpha": 1 - g["alpha"], "eps": g["eps"],
                "momentum": g["momentum"], "weight_decay": g["weight_decay"]}

    def _update(self, p, g, state, h, group, step):
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + p * h["weight_decay"]
        sq = _set(state, "square_avg", state["square_avg"] * h["alpha"] + g * g * h["one_minus_alpha"])
        if group["centered"]:
            ga = state["grad_avg"]
            ga = _set(state, "grad_avg", ga + (g - ga) * h["one_minus_alpha"])
            avg = (sq - ga * ga).sqrt() + h["eps"]
        else:
            avg = sq.sqrt() + h["eps"]
        if "momentum_buffer" in state:
            buf = _set(state, "momentum_buffer", state["momentum_buffer"] * h["momentum"] + g / avg)
            return p - buf * h["lr"]
        return p - g / avg * h["lr"]


# ---------------------------------------------------------------------- Adagrad
class Adagrad(Optimizer):
    """Adagrad as ``torch.optim.Adagrad``: ``lr_decay``, L2 ``weight_decay``,
    ``initial_accumulator_value``, ``eps``, ``maximize``."""

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    _state_names = ("sum",)

    def _check_hyper(self, group):
        super()._check_hyper(group)
        if group["lr_decay"] < 0 or group["weight_decay"] < 0 or group["initial_accumulator_value"] < 0:
            raise ValueError("lr_decay, weight_decay and initial_accumulator_value must be >= 0")

    def _state_init(self, name, group):
        return group["initial_accumulator_value"]

    def _hyper_values(self, g):
        return {"lr": g["lr"], "lr_decay": g["lr_decay"], "weight_decay": g["weight_decay"], "eps": g["eps"]}

    def _update(self, p, g, state, h, group, step):
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + p * h["weight_decay"]
        clr = h["lr"] / ((step - 1) * h["lr_decay"] + 1)
        s = _set(state, "sum", state["sum"] + g * g)
        return p - g / (s.sqrt() + h["eps"]) * clr


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]
