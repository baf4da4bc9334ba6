"""SAM's two-way transformer for many prompts on one image, with its products reordered.

The mask decoder's transformer (:mod:`inference.modeling.transformer`) lets a handful of
prompt tokens (T = 7 for one point: the IoU token, four mask tokens, the point and a
padding point) and the 4,096 image tokens attend to each other. Written as the modules
are, every prompt projects all 4,096 image tokens several times (256 -> 128 channels),
although only T tokens ask or answer. Here the same arithmetic is reassociated so that
the image side is only ever multiplied by T-sized matrices:

- tokens to image: ``softmax(Q_h (X W_k,h + b_k,h)^T) (X W_v,h + b_v,h)`` is computed as
  ``softmax((Q_h W_k,h) X^T) X`` followed by ``W_v,h`` and ``b_v,h`` on T rows (the key
  bias adds the same number to a query's every score, which softmax ignores; the rows of
  softmax sum to 1, so the value bias passes through);
- image to tokens: the image's queries are never projected: ``X (W_q,h^T K_h^T)``, and the
  output projection is applied to the T values before the attention weights sum them.

In the first layer the image tokens are the same for every prompt, so they stay a
single (1, 4096, 256) tensor there. The result equals the modules' up to float rounding
(``tests/inference/test_everything.py`` checks it on real weights); on a CPU it is a few
times cheaper per prompt.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F

from inference.modeling.transformer import Attention, TwoWayAttentionBlock, TwoWayTransformer


def tokens_to_image(
    attn: Attention, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
) -> torch.Tensor:
    """``attn(queries, keys, values)`` for few queries (B, T, C) and many keys and values
    (B or 1, N, C) -> (B, T, C)."""
    b, t, c = queries.shape
    heads = attn.num_heads
    inner = attn.q_proj.out_features
    d = inner // heads
    q = F.linear(queries, attn.q_proj.weight, attn.q_proj.bias)
    q = q.reshape(b, t, heads, d).transpose(1, 2)  # (B, h, T, d)
    q_in_image = q @ attn.k_proj.weight.reshape(heads, d, c)  # (B, h, T, C)
    scores = q_in_image.reshape(b, heads * t, c) @ keys.transpose(1, 2)  # (B, hT, N)
    weights = torch.softmax(scores * (1.0 / math.sqrt(d)), dim=-1)
    mixed = (weights @ values).reshape(b, heads, t, c)  # (B, h, T, C)
    w_v = attn.v_proj.weight.reshape(heads, d, c).transpose(1, 2)  # (h, C, d)
    out = mixed @ w_v + attn.v_proj.bias.reshape(heads, 1, d)  # (B, h, T, d)
    return attn.out_proj(out.transpose(1, 2).reshape(b, t, inner))


def image_to_tokens(
    attn: Attention, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
) -> torch.Tensor:
    """``attn(queries, keys, values)`` for many queries (B or 1, N, C) and few keys and
    values (B, T, C) -> (B, N, C)."""
    b, t, c = keys.shape
    heads = attn.num_heads
    inner = attn.q_proj.out_features
    d = inner // heads
    k = F.linear(keys, attn.k_proj.weight, attn.k_proj.bias).reshape(b, t, heads, d)
    k = k.permute(0, 2, 3, 1)  # (B, h, d, T)
    v = F.linear(values, attn.v_proj.weight, attn.v_proj.bias).reshape(b, t, heads, d)
    v = v.transpose(1, 2)  # (B, h, T, d)
    w_q = attn.q_proj.weight.reshape(heads, d, c).transpose(1, 2)  # (h, C, d)
    image_side = (w_q @ k).permute(0, 2, 1, 3).reshape(b, c, heads * t)  # (B, C, hT)
    bias = (attn.q_proj.bias.reshape(heads, 1, d) @ k).reshape(b, 1, heads * t)
    scores = (queries @ image_side + bias) * (1.0 / math.sqrt(d))  # (B, N, hT)
    n = scores.shape[1]
    # softmax over the last, T-long axis, written out: torch.softmax over so short an
    # axis was the slowest step of the whole decoder on a CPU.
    grouped = scores.reshape(b, n, heads, t)
    grouped = (grouped - grouped.amax(dim=-1, keepdim=True)).exp_()
    weights = (grouped / grouped.sum(dim=-1, keepdim=True)).reshape(b, n, heads * t)
    w_out = attn.out_proj.weight.reshape(c, heads, d).permute(1, 2, 0)  # (h, d, C)
    projected = (v @ w_out).reshape(b, heads * t, c)  # (B, hT, C)
    return weights @ projected + attn.out_proj.bias


def run_transformer(
    transformer: TwoWayTransformer,
    image_tokens: torch.Tensor,
    image_pe: torch.Tensor,
    prompt_tokens: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """What ``transformer(image, pe, prompt_tokens)`` returns, for B prompt sets on one
    image: image_tokens and image_pe (1, N, C) (flattened, channels last), prompt_tokens
    (B, T, C) -> the tokens (B, T, C) and the image tokens (B, N, C)."""
    queries, keys = prompt_tokens, image_tokens
    query_pe, key_pe = prompt_tokens, image_pe
    for module in transformer.layers:
        layer = cast(TwoWayAttentionBlock, module)
        if layer.skip_first_layer_pe:
            queries = layer.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + layer.self_attn(q, q, queries)
        queries = layer.norm1(queries)
        k = keys + key_pe
        attended = tokens_to_image(layer.cross_attn_token_to_image, queries + query_pe, k, keys)
        queries = layer.norm2(queries + attended)
        queries = layer.norm3(queries + layer.mlp(queries))
        q = queries + query_pe
        keys = layer.norm4(keys + image_to_tokens(layer.cross_attn_image_to_token, k, q, queries))
    k = keys + key_pe
    attended = tokens_to_image(transformer.final_attn_token_to_image, queries + query_pe, k, keys)
    return transformer.norm_final_attn(queries + attended), keys
