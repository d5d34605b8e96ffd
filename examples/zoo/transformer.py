"""A one-layer transformer encoder on sequences of 8 tokens × 32 features: multi-head
self-attention (4 heads) written with explicit linear, matmul and softmax ops, a GELU
MLP, post-norm residuals with layer norm, mean pooling over the tokens and a linear head."""

import math

import torch
from torch import nn

INPUT_SHAPE = (2, 8, 32)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.scale = 1.0 / math.sqrt(dim // heads)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def split(self, x):
        batch, tokens, dim = x.shape
        return x.reshape(batch, tokens, self.heads, dim // self.heads).transpose(1, 2)

    def forward(self, x):
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        scores = torch.matmul(q, k.transpose(-2, -1)) * self.scale
        y = torch.matmul(scores.softmax(dim=-1), v)              # batch, heads, tokens, dim/heads
        return self.out(y.transpose(1, 2).reshape(x.shape))


class TransformerEncoder(nn.Module):
    def __init__(self, dim: int = 32, heads: int = 4, hidden: int = 64, classes: int = 10):
        super().__init__()
        self.attention = SelfAttention(dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.norm2 = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.norm1(x + self.attention(x))
        x = self.norm2(x + self.mlp(x))
        return self.head(x.mean(dim=1))
