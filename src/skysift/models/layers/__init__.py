"""Reusable layers of the skysift architectures."""

from skysift.models.layers.attention import (
    FeedForward,
    MultiHeadSelfAttention,
    TransformerBlock,
)
from skysift.models.layers.conv import (
    Conv1dSame,
    MaxPool1dSame,
    SeparableConv1d,
    pad_same_1d,
)
from skysift.models.layers.embed import (
    PatchEmbed1d,
    SinusoidalPositionalEncoding,
    sinusoidal_position_encoding,
)
from skysift.models.layers.heads import GlobalPoolHead

__all__ = [
    "Conv1dSame",
    "FeedForward",
    "GlobalPoolHead",
    "MaxPool1dSame",
    "MultiHeadSelfAttention",
    "PatchEmbed1d",
    "SeparableConv1d",
    "SinusoidalPositionalEncoding",
    "TransformerBlock",
    "pad_same_1d",
    "sinusoidal_position_encoding",
]
