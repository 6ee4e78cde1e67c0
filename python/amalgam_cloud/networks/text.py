"""The text networks: bag of embeddings, TextCNN, GRU, Transformer encoder, with burn's
semantics and amalgam's tensor names (``crates/core/src/model/params.rs``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import Network

PAD_TOKEN = 0


def token_shape(spec: dict) -> tuple[int, int]:
    """``(L, V)``: sequence length and vocabulary size of a text spec."""
    return spec["input"]["length"], spec["input"]["vocab_size"]


class Bag(Network):
    """Mean of the non-padding tokens' embeddings (at least one counted), then a linear."""

    def __init__(self, spec: dict):
        super().__init__(spec)
        _, vocab = token_shape(spec)
        width = spec["architecture"]["embedding"]
        self.embedding = nn.Embedding(vocab, width)
        self.classifier = nn.Linear(width, spec["classes"])

    def logits(self, tokens):
        mask = (tokens != PAD_TOKEN).to(torch.float32).unsqueeze(2)
        counts = mask.sum(dim=1).clamp_min(1.0)
        return self.classifier((self.embedding(tokens) * mask).sum(dim=1) / counts)


class TextCnn(Network):
    """Embeddings, one 1-D conv per width (ReLU, max over time), concatenated, a linear."""

    def __init__(self, spec: dict):
        super().__init__(spec)
        _, vocab = token_shape(spec)
        arch = spec["architecture"]
        self.embedding = nn.Embedding(vocab, arch["embedding"])
        self.convs = nn.ModuleList(nn.Conv1d(arch["embedding"], arch["filters"], w) for w in arch["widths"])
        self.classifier = nn.Linear(arch["filters"] * len(arch["widths"]), spec["classes"])

    def logits(self, tokens):
        x = self.embedding(tokens).transpose(1, 2)
        pooled = [F.relu(conv(x)).amax(dim=2) for conv in self.convs]
        return self.classifier(torch.cat(pooled, dim=1))


class GateController(nn.Module):
    """One GRU gate: ``input_transform`` and ``hidden_transform`` linears (burn's names)."""

    def __init__(self, inputs: int, hidden: int):
        super().__init__()
        self.input_transform = nn.Linear(inputs, hidden)
        self.hidden_transform = nn.Linear(hidden, hidden)


class GruLayer(nn.Module):
    """burn's GRU (reset after the hidden product, as PyTorch's): ``z = s(Wx x + Wh h)``,
    ``r = s(...)``, ``n = tanh(Wx x + bx + r (Wh h + bh))``, ``h' = (1 - z) n + z h``."""

    def __init__(self, inputs: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.update_gate = GateController(inputs, hidden)
        self.reset_gate = GateController(inputs, hidden)
        self.new_gate = GateController(inputs, hidden)

    def forward(self, x):
        """States ``[B, L, hidden]`` for inputs ``[B, L, inputs]`` from a zero state."""
        batch, length, _ = x.shape
        h = x.new_zeros(batch, self.hidden)
        gates = (self.update_gate, self.reset_gate, self.new_gate)
        # The input products of every step at once; the hidden products step by step.
        inputs = [g.input_transform(x) for g in gates]
        states = []
        for t in range(length):
            z = torch.sigmoid(inputs[0][:, t] + self.update_gate.hidden_transform(h))
            r = torch.sigmoid(inputs[1][:, t] + self.reset_gate.hidden_transform(h))
            n = torch.tanh(inputs[2][:, t] + r * self.new_gate.hidden_transform(h))
            h = n * (1 - z) + z * h
            states.append(h)
        return torch.stack(states, dim=1)


class Gru(Network):
    """Embeddings, a one-layer GRU, max over time of its states, a linear."""

    def __init__(self, spec: dict):
        super().__init__(spec)
        _, vocab = token_shape(spec)
        arch = spec["architecture"]
        self.embedding = nn.Embedding(vocab, arch["embedding"])
        self.gru = GruLayer(arch["embedding"], arch["hidden"])
        self.classifier = nn.Linear(arch["hidden"], spec["classes"])

    def logits(self, tokens):
        return self.classifier(self.gru(self.embedding(tokens)).amax(dim=1))


class MultiHeadAttention(nn.Module):
    """Self-attention as burn's ``MultiHeadAttention``: ``softmax(q k^T / sqrt(d_k)) v`` per
    head, then the ``output`` linear."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.output = nn.Linear(width, width)

    def forward(self, x):
        batch, length, width = x.shape
        d_k = width // self.heads

        def split(t):
            return t.reshape(batch, length, self.heads, d_k).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)
        context = torch.softmax(scores, dim=-1) @ v
        return self.output(context.transpose(1, 2).reshape(batch, length, width))


class FeedForward(nn.Module):
    """``linear_outer(gelu(linear_inner(x)))``."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.linear_inner = nn.Linear(width, hidden)
        self.linear_outer = nn.Linear(hidden, width)

    def forward(self, x):
        return self.linear_outer(F.gelu(self.linear_inner(x)))


class EncoderLayer(nn.Module):
    """burn's pre-norm encoder layer: ``x + mha(norm_2(x))``, then ``x + pwff(norm_1(x))``
    (burn names the norms this way round)."""

    def __init__(self, width: int, heads: int, feed_forward: int):
        super().__init__()
        self.mha = MultiHeadAttention(width, heads)
        self.pwff = FeedForward(width, feed_forward)
        self.norm_1 = nn.LayerNorm(width, eps=1e-5)
        self.norm_2 = nn.LayerNorm(width, eps=1e-5)

    def forward(self, x):
        x = x + self.mha(self.norm_2(x))
        return x + self.pwff(self.norm_1(x))


class Encoder(nn.Module):
    def __init__(self, width: int, heads: int, layers: int, feed_forward: int):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(width, heads, feed_forward) for _ in range(layers))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Transformer(Network):
    """Token plus learned positional embeddings, a pre-norm encoder (no dropout), mean over
    positions, a linear."""

    def __init__(self, spec: dict):
        super().__init__(spec)
        length, vocab = token_shape(spec)
        arch = spec["architecture"]
        width = arch["embedding"]
        self.embedding = nn.Embedding(vocab, width)
        self.positions = nn.Embedding(length, width)
        self.encoder = Encoder(width, arch["heads"], arch["layers"], arch["feed_forward"])
        self.classifier = nn.Linear(width, spec["classes"])

    def logits(self, tokens):
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.embedding(tokens) + self.positions(positions).unsqueeze(0)
        return self.classifier(self.encoder(x).mean(dim=1))
