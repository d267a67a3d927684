"""Multi-head attention and Transformer encoder/decoder layers (PyTorch's layouts and
parameter names, so weights copy over by ``load_state_dict``)."""
from __future__ import annotations

import math
from typing import Callable

from .. import dtypes as dt
from .._math import where
from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import Dropout, Linear
from .module import Module
from .norm import LayerNorm


class MultiheadAttention(Module):
    """``torch.nn.MultiheadAttention``: inputs (L, N, E), or (N, L, E) with
    ``batch_first``, or unbatched (L, E). Masks follow PyTorch: a boolean ``attn_mask`` or
    ``key_padding_mask`` marks positions that may *not* be attended (True = masked); float
    masks are added to the attention scores. Returns ``(output, weights)``, the weights
    averaged over heads unless ``average_attn_weights=False`` (None unless ``need_weights``)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._same_dims = self.kdim == embed_dim and self.vdim == embed_dim
        e = embed_dim
        if self._same_dims:
            self.in_proj_weight = init.xavier_uniform((3 * e, e), dtype=dtype, device=device)
        else:
            self.q_proj_weight = init.xavier_uniform((e, e), dtype=dtype, device=device)
            self.k_proj_weight = init.xavier_uniform((e, self.kdim), dtype=dtype, device=device)
            self.v_proj_weight = init.xavier_uniform((e, self.vdim), dtype=dtype, device=device)
        self.in_proj_bias = init.zeros((3 * e,), dtype=dtype, device=device) if bias else None
        self.out_proj = Linear(e, e, bias=bias, device=device, dtype=dtype)
        if bias:
            self.out_proj.bias = init.zeros((e,), dtype=dtype, device=device)

    def _projections(self):
        e = self.embed_dim
        if self._same_dims:
            w = self.in_proj_weight
            ws = (w[:e], w[e:2 * e], w[2 * e:])
        else:
            ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        bs = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        return ws, bs

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"MultiheadAttention expects 3-d (or unbatched 2-d) query, key and value, got "
                             f"{query.shape}, {key.shape}, {value.shape}")
        if not batched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:  # (L, N, E) -> (N, L, E)
            query, key, value = query.swapaxes(0, 1), key.swapaxes(0, 1), value.swapaxes(0, 1)
        n, L, e = query.shape
        s = key.shape[1]
        if e != self.embed_dim:
            raise ValueError(f"MultiheadAttention: query has {e} features, expected {self.embed_dim}")
        h, hd = self.num_heads, self.head_dim
        (wq, wk, wv), (bq, bk, bv) = self._projections()
        q = F.linear(query, wq, bq).reshape(n, L, h, hd).swapaxes(1, 2)
        k = F.linear(key, wk, bk).reshape(n, s, h, hd).swapaxes(1, 2)
        v = F.linear(value, wv, bv).reshape(n, s, h, hd).swapaxes(1, 2)
        mask = _merge_masks(attn_mask, key_padding_mask, n, h, L, s, q.dtype)
        out, weights = F._attention(q, k, v, mask, self.dropout if self.training else 0.0,
                                    is_causal and attn_mask is None, None, self.training)
        out = out.swapaxes(1, 2).reshape(n, L, e)
        out = self.out_proj(out)
        if not batched:
            out = out.reshape(L, e)
        elif not self.batch_first:
            out = out.swapaxes(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)
        if not batched:
            weights = weights.reshape(weights.shape[1:])
        return out, weights


def _merge_masks(attn_mask, key_padding_mask, n, h, L, s, dtype):
    """One additive float mask (broadcastable to (n, h, L, s)) from PyTorch-style masks."""
    mask = None
    for m, shape in ((attn_mask, None), (key_padding_mask, (n, 1, 1, s))):
        if m is None:
            continue
        if not isinstance(m, Tensor):
            m = Tensor(m)
        if m.dtype is dt.bool_:
            m = where(m, -math.inf, 0.0).cast(dtype)
        else:
            m = m.cast(dtype)
        if shape is not None:
            if m.shape != (n, s):
                raise ValueError(f"key_padding_mask must have shape {(n, s)}, got {m.shape}")
            m = m.reshape(shape)
        elif m.ndim == 2:
            if m.shape != (L, s):
                raise ValueError(f"attn_mask must have shape {(L, s)} or {(n * h, L, s)}, got {m.shape}")
        elif m.ndim == 3:
            if m.shape != (n * h, L, s):
                raise ValueError(f"attn_mask must have shape {(L, s)} or {(n * h, L, s)}, got {m.shape}")
            m = m.reshape(n, h, L, s)
        else:
            raise ValueError(f"attn_mask must be 2-d or 3-d, got shape {m.shape}")
        mask = m if mask is None else mask + m
    return mask


def _activation(activation) -> Callable[[Tensor], Tensor]:
    if callable(activation):
        return activation
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise ValueError(f"activation must be 'relu', 'gelu' or a callable, not {activation!r}")


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: self-attention (and, in a decoder,
    attention over ``memory``), a feed-forward block, and a LayerNorm ``norm<i>`` and a
    dropout ``dropout<i>`` per block, made in PyTorch's order (so parameters line up)."""
    _cross = False  # a decoder attends to the encoder's memory as well

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first=batch_first, **kw)
        if self._cross:
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, layer_norm_eps, bias=bias, **kw)
        if self._cross:
            self.norm3 = LayerNorm(d_model, layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if self._cross:
            self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)

    def _sa(self, x, mask, padding_mask, is_causal):
        out = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding_mask, need_weights=False,
                             is_causal=is_causal)[0]
        return self.dropout1(out)

    def _ff(self, x):
        last = self.dropout3 if self._cross else self.dropout2
        return last(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_TransformerLayer):
    """``torch.nn.TransformerEncoderLayer``: self-attention and a feed-forward block, each
    with residual connection, dropout and LayerNorm (post-norm, or pre-norm with
    ``norm_first``)."""

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff(x))


class TransformerDecoderLayer(_TransformerLayer):
    """``torch.nn.TransformerDecoderLayer``: self-attention, attention over ``memory``, and
    a feed-forward block, each with residual, dropout and LayerNorm."""
    _cross = True

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff(self.norm3(x))
        x = self.norm1(x + self._sa(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff(x))

    def _mha(self, x, mem, mask, padding_mask, is_causal):
        out = self.multihead_attn(x, mem, mem, attn_mask=mask, key_padding_mask=padding_mask, need_weights=False,
                                  is_causal=is_causal)[0]
        return self.dropout2(out)
