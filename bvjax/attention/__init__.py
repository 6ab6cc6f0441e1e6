"""bvjax.attention: Local Linear Attention (exact, chunked, decode, FlashLLA), its references, MQSA."""

from bvjax.attention._chunked import local_linear_attention_chunked
from bvjax.attention._decode import local_linear_attention_decode
from bvjax.attention._lla import local_linear_attention
from bvjax.attention._mqsa import MQSA, LQuerySelfAttention, window_mean_query
from bvjax.attention._reference import linear_regression_attention, softmax_attention

__all__ = [
    "MQSA",
    "LQuerySelfAttention",
    "linear_regression_attention",
    "local_linear_attention",
    "local_linear_attention_chunked",
    "local_linear_attention_decode",
    "softmax_attention",
    "window_mean_query",
]
