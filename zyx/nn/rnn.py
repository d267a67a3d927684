"""Recurrent cells (RNNCell, LSTMCell, GRUCell) and layers (RNN, LSTM, GRU) with
PyTorch's gate layouts, parameter names and shapes.

A layer unrolls the sequence in Python: the whole unrolled computation is one lazy
graph (one schedule, compiled once per sequence length). The first layer's input
projection is one matmul over all time steps."""
from __future__ import annotations

import math

from .. import _movement
from ..creation import zeros
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module


def _uniform(shape, hidden: int, dtype, device) -> Tensor:
    bound = 1.0 / math.sqrt(hidden) if hidden > 0 else 0.0
    return init.uniform(shape, -bound, bound, dtype, device)


# ---------------------------------------------------------------------- one step
# xw: the input projection x @ W_ih^T + b_ih of this step; the gates are chunks of it
def _rnn_step(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str) -> Tensor:
    z = xw + F.linear(h, w_hh, b_hh)
    return z.tanh() if nonlinearity == "tanh" else z.relu()


def _lstm_step(xw: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    i, f, g, o = (xw + F.linear(h, w_hh, b_hh)).chunk(4, axis=-1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def _gru_step(xw: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    xr, xz, xn = xw.chunk(3, axis=-1)
    hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, axis=-1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return n + z * (h - n)  # (1 - z) * n + z * h


# ---------------------------------------------------------------------- cells
class _CellBase(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        g = self._gates * hidden_size
        self.weight_ih = _uniform((g, input_size), hidden_size, dtype, device)
        self.weight_hh = _uniform((g, hidden_size), hidden_size, dtype, device)
        self.bias_ih = _uniform((g,), hidden_size, dtype, device) if bias else None
        self.bias_hh = _uniform((g,), hidden_size, dtype, device) if bias else None

    def _prepare(self, x: Tensor, hx):
        return _with_batch(self, x, 2, f"(N, {self.input_size}) or ({self.input_size},)", 0)

    def _zeros(self, x: Tensor) -> Tensor:
        return zeros((x.shape[0], self.hidden_size), dtype=x.dtype, device=x.device)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


def _with_batch(m, x: Tensor, rank: int, expects: str, batch_axis: int) -> tuple[Tensor, bool]:
    """``x`` (checked: rank ``rank``, or one less when unbatched, and ``m.input_size``
    features) with a batch axis, inserted at ``batch_axis`` if it had none; and whether it
    had one."""
    if x.ndim not in (rank - 1, rank) or x.shape[-1] != m.input_size:
        raise ValueError(f"{type(m).__name__} expects input {expects}, got {x.shape}")
    batched = x.ndim == rank
    if not batched:
        x = x.unsqueeze(batch_axis)
    return x, batched


def _batch_state(h: Tensor | None, batched: bool) -> Tensor | None:
    return h if h is None or batched else h.unsqueeze(0)


class RNNCell(_CellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._prepare(x, hx)
        h = _batch_state(hx, batched)
        h = self._zeros(x) if h is None else h
        out = _rnn_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh,
                        self.nonlinearity)
        return out if batched else out.reshape(out.shape[1:])


class LSTMCell(_CellBase):
    _gates = 4

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        x, batched = self._prepare(x, hx)
        if hx is None:
            h = c = self._zeros(x)
        else:
            h, c = _batch_state(hx[0], batched), _batch_state(hx[1], batched)
        h, c = _lstm_step(F.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.reshape(h.shape[1:]), c.reshape(c.shape[1:]))


class GRUCell(_CellBase):
    _gates = 3

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._prepare(x, hx)
        h = _batch_state(hx, batched)
        h = self._zeros(x) if h is None else h
        out = _gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return out if batched else out.reshape(out.shape[1:])


# ---------------------------------------------------------------------- layers
class _RNNBase(Module):
    _gates = 1
    _mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, dropout, bidirectional
        dirs = 2 if bidirectional else 1
        g = self._gates * hidden_size
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                setattr(self, "weight_ih" + sfx, _uniform((g, in_size), hidden_size, dtype, device))
                setattr(self, "weight_hh" + sfx, _uniform((g, hidden_size), hidden_size, dtype, device))
                if bias:
                    setattr(self, "bias_ih" + sfx, _uniform((g,), hidden_size, dtype, device))
                    setattr(self, "bias_hh" + sfx, _uniform((g,), hidden_size, dtype, device))

    def _weights(self, layer: int, d: int):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        return (getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx),
                getattr(self, "bias_ih" + sfx, None), getattr(self, "bias_hh" + sfx, None))

    def _step(self, xw, state, w_hh, b_hh):
        raise NotImplementedError

    def forward(self, x: Tensor, hx=None):
        x, batched = _with_batch(self, x, 3, f"(L, N, {self.input_size}) (or batch_first / unbatched)", 1)
        if batched and self.batch_first:
            x = x.swapaxes(0, 1)  # (L, N, I)
        steps, n = x.shape[0], x.shape[1]
        dirs = 2 if self.bidirectional else 1
        states = self._initial_states(hx, n, dirs, batched, x)
        layer_in: Tensor | list[Tensor] = x
        finals = []
        for layer in range(self.num_layers):
            outs_by_dir = []
            for d in range(dirs):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                if isinstance(layer_in, Tensor):
                    xw_all = F.linear(layer_in, w_ih, b_ih)  # every time step in one matmul
                    xws = [xw_all[t] for t in range(steps)]
                else:
                    xws = [F.linear(v, w_ih, b_ih) for v in layer_in]
                state = states[layer * dirs + d]
                outs: list = [None] * steps
                order = range(steps - 1, -1, -1) if d else range(steps)
                for t in order:
                    state = self._step(xws[t], state, w_hh, b_hh)
                    outs[t] = state[0] if isinstance(state, tuple) else state
                outs_by_dir.append(outs)
                finals.append(state)
            layer_out = [o[0] if dirs == 1 else _movement.cat([o[0], o[1]], -1)
                         for o in zip(*outs_by_dir)]
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_out = [F.dropout(o, self.dropout, True) for o in layer_out]
            layer_in = layer_out
        output = _movement.stack(layer_in, 0) if isinstance(layer_in, list) else layer_in
        if not batched:
            output = output.reshape((steps, output.shape[-1]))
        elif self.batch_first:
            output = output.swapaxes(0, 1)
        return output, self._final(finals, batched)

    def _initial_states(self, hx, n, dirs, batched, x):
        total = self.num_layers * dirs
        shape = (total, n, self.hidden_size) if batched else (total, self.hidden_size)

        def split(h: Tensor, what: str) -> list[Tensor]:
            if h.shape != shape:
                raise ValueError(f"{type(self).__name__}: {what} must have shape {shape}, got {h.shape}")
            h = h if batched else h.unsqueeze(1)
            return [h[i] for i in range(total)]

        zero = zeros((n, self.hidden_size), dtype=x.dtype, device=x.device)
        if self._mode == "LSTM":
            if hx is None:
                return [(zero, zero)] * total
            hs, cs = split(hx[0], "h_0"), split(hx[1], "c_0")
            return list(zip(hs, cs))
        if hx is None:
            return [zero] * total
        return split(hx, "h_0")

    def _final(self, finals, batched):
        def pack(ts):
            out = _movement.stack(ts, 0)
            return out if batched else out.reshape((out.shape[0], out.shape[2]))
        if self._mode == "LSTM":
            return pack([s[0] for s in finals]), pack([s[1] for s in finals])
        return pack(finals)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, " \
               f"batch_first={self.batch_first}, bidirectional={self.bidirectional}"


class RNN(_RNNBase):
    """Elman RNN, ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (act: tanh or relu)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype)
        self.nonlinearity = nonlinearity

    def _step(self, xw, state, w_hh, b_hh):
        return _rnn_step(xw, state, w_hh, b_hh, self.nonlinearity)


class LSTM(_RNNBase):
    """LSTM with PyTorch's gate order (input, forget, cell, output); returns
    ``(output, (h_n, c_n))``."""
    _gates = 4
    _mode = "LSTM"

    def _step(self, xw, state, w_hh, b_hh):
        return _lstm_step(xw, state[0], state[1], w_hh, b_hh)


class GRU(_RNNBase):
    """GRU with PyTorch's gate order (reset, update, new)."""
    _gates = 3
    _mode = "GRU"

    def _step(self, xw, state, w_hh, b_hh):
        return _gru_step(xw, state, w_hh, b_hh)
