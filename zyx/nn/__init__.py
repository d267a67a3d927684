"""``zyx.nn``: modules, layers, losses and initializers for training with zyx.

Parameters are plain ``zyx.Tensor`` values found in a module's attributes (see
``zyx.nn.module``); gradients come from ``zyx.GradientTape``; updates from ``zyx.optim``::

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = zyx.optim.Adam(model.parameters(), lr=1e-3)
    with zyx.GradientTape() as tape:
        loss = nn.functional.cross_entropy(model(x), y)
        grads = tape.gradient(loss, model.parameters())
    opt.update(model, grads)          # in place, realized in one schedule
"""
from __future__ import annotations

from . import functional, init
from .attention import MultiheadAttention, TransformerDecoderLayer, TransformerEncoderLayer
from .containers import ModuleDict, ModuleList, Sequential
from .conv import (AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d,
                   MaxPool1d, MaxPool2d)
from .layers import (ELU, GELU, Bilinear, Dropout, Embedding, Flatten, Hardtanh, Identity, LeakyReLU, Linear,
                     LogSoftmax, Mish, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softplus, Tanh, Unflatten)
from .losses import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, HuberLoss, KLDivLoss,
                     L1Loss, MSELoss, NLLLoss, SmoothL1Loss)
from .module import Buffer, Module, load_safetensors, save_safetensors
from .norm import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm, RMSNorm
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    "functional", "init", "Module", "Buffer", "save_safetensors", "load_safetensors",
    "Sequential", "ModuleList", "ModuleDict",
    "Linear", "Bilinear", "Embedding", "Dropout", "Identity", "Flatten", "Unflatten",
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
    "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "RMSNorm",
    "MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer",
    "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU",
    "ReLU", "ReLU6", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "LeakyReLU", "ELU", "Softplus",
    "Mish", "Hardtanh",
    "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
    "KLDivLoss", "CosineEmbeddingLoss",
]
