"""SAM's mask decoder for many single-point prompts on one image, without ever holding a
(B, 4096, 256) tensor per prompt.

The decoder's two-way transformer (:mod:`inference.modeling.transformer`) updates the
4,096 image tokens X (N × C, C = 256) of the image once per layer for each prompt. Every
update is small: an attention from the image to the prompt's T = 7 tokens adds
``weights @ U`` (weights N × 56, the 8 heads' attention over 7 tokens; U 56 × C, the
tokens' values through the output projection), and a LayerNorm scales each row and each
channel. So a prompt's image tokens stay, exactly, of the form

    scale[n] · S[n] + coef[n] @ basis + offset          (:class:`LowRankImage`)

with S (N × C) the same for every prompt (X, centred and scaled per channel), scale (N,)
and coef (N × r) per prompt, basis (r × C) per prompt and r ≤ 115. Everything the decoder
asks of the image tokens is a linear map or a row's mean and variance, and both can be
taken from that form: a projection is ``scale · (S W) + coef @ (basis W)`` with ``S W``
computed once per image; a row's variance is ``scale² |S|² + 2 scale coef·(basis S) +
coef (basis basisᵀ) coefᵀ``, where ``basis S`` runs through the 128-channel projection
that made the basis (:func:`_cross`). An attention never forms the projected keys,
values or queries (N × 128 per prompt) either: its scores are ``scale · (q · S W) + (q ·
basis W) @ coef`` and its weighted sums go the same way (:meth:`LowRankImage.scores`,
:meth:`LowRankImage.attend`), about half the multiplications and none of the (B, N, 128)
tensors. The first layer's image side is shared outright. Only the masks' upscaling of a
prompt worth keeping materialises anything of image size.

The figures equal the modules' up to float rounding (``tests/inference/test_everything.py``
compares them with the model's own decoder on the real weights).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from inference.modeling.common import LayerNorm2d
from inference.modeling.mask_decoder import MaskDecoder
from inference.modeling.prompt_encoder import PromptEncoder
from inference.modeling.transformer import Attention, TwoWayAttentionBlock
from inference.prompts import LABEL_PADDING, LABEL_POSITIVE


def _linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    return F.linear(x, layer.weight, layer.bias)


def _centred(x: torch.Tensor) -> torch.Tensor:
    """x minus its mean over the last (channel) axis."""
    return x - x.mean(-1, keepdim=True)


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(..., n, heads·d) -> (..., heads, n, d)."""
    *lead, n, c = x.shape
    return x.reshape(*lead, n, heads, c // heads).transpose(-3, -2)


@dataclass
class LowRankImage:
    """B prompts' image tokens (B, N, C), held as
    ``scale[b, 0, n] · shared[n] + coef[b, :, n] @ basis[b] + offset``.

    scale (B, 1, N); shared (N, C), the same for every prompt; coef (B, r, N), the image
    along the last axis, so that the per-pixel sums over r run along rows of N on a CPU;
    basis (B, r, C); offset (C,).
    """

    scale: torch.Tensor
    shared: torch.Tensor
    coef: torch.Tensor
    basis: torch.Tensor
    offset: torch.Tensor

    def _constant(self, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """What the offset becomes through ``weight`` (K, C) and ``bias``: (K,)."""
        constant = self.offset @ weight.transpose(0, 1)
        return constant if bias is None else constant + bias

    def _projected_basis(self, weight: torch.Tensor, heads: int) -> torch.Tensor:
        """The basis through ``weight`` (h·d, C), split by head: (B, r, h, d)."""
        b, r, _ = self.basis.shape
        return (self.basis @ weight.transpose(0, 1)).reshape(b, r, heads, -1)

    def project(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        shared_projected: torch.Tensor,
    ) -> torch.Tensor:
        """``tokens @ weight.T + bias`` (B, N, K) for weight (K, C), given
        ``shared_projected = shared @ weight.T`` (N, K), computed once per image."""
        constant = self._constant(weight, bias)
        b, _, n = self.scale.shape
        # Written into a tensor of its own: out of place, addcmul over these broadcast
        # shapes ran at a third of the speed on a CPU.
        out = torch.empty((b, n, weight.shape[0]), dtype=self.scale.dtype, device=self.scale.device)
        torch.addcmul(constant, self.scale.transpose(1, 2), shared_projected, out=out)
        return out.baddbmm_(self.coef.transpose(1, 2), self.basis @ weight.transpose(0, 1))

    def scores(
        self,
        queries: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        shared_by_head: torch.Tensor,
    ) -> torch.Tensor:
        """Each head's products of a few queries with every projected image token,
        ``Σ_d queries[b, h, t, d] · P[b, n, h·d' + d]`` (B, h·T, N), where P is
        :meth:`project` with ``weight`` (h·d', C) and ``bias``; queries (B, h, T, d').

        P is never formed: its shared part arrives as ``shared_by_head`` (h, d', N) or,
        with a positional term that is the same for every prompt, (h, d', 2N) (``shared
        @ weightᵀ`` then that term, each split by head), and its coefficients' part runs
        through ``coef`` as (h·T × r) products per prompt.
        """
        b, heads, t, d = queries.shape
        n = self.coef.shape[-1]
        projected_basis = self._projected_basis(weight, heads)
        through_basis = torch.einsum("bhtd,brhd->bhtr", queries, projected_basis)
        out = through_basis.reshape(b, heads * t, -1) @ self.coef  # (B, h·T, N)
        constant = self._constant(weight, bias)
        through_constant = (queries * constant.reshape(heads, d)[:, None, :]).sum(-1)
        shared = queries.transpose(0, 1).reshape(heads, b * t, d) @ shared_by_head
        shared = shared.reshape(heads, b, t, -1).transpose(0, 1)  # (B, h, T, N or 2N)
        view = out.view(b, heads, t, n)
        view.addcmul_(shared[..., :n], self.scale[:, :, None, :])
        if shared.shape[-1] > n:
            view.add_(shared[..., n:])
        view.add_(through_constant[..., None])
        return out

    def attend(
        self,
        weights: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        shared_by_head: torch.Tensor,
    ) -> torch.Tensor:
        """Each head's weighted sum of the projected image tokens, ``Σ_n weights[b, h·T
        + t, n] · P[b, n, h·d:(h+1)·d]`` (B, h, T, d), for weights (B, h·T, N) whose rows
        sum to 1 (a softmax over the image), P as in :meth:`scores`; ``shared_by_head``
        (h, N, d) is ``shared @ weightᵀ`` split by head."""
        heads, n, d = shared_by_head.shape
        b = weights.shape[0]
        t = weights.shape[1] // heads
        scaled = torch.empty((heads, b, t, n), dtype=weights.dtype, device=weights.device)
        torch.mul(
            weights.view(b, heads, t, n).transpose(0, 1),
            self.scale.view(b, 1, 1, n).transpose(0, 1),
            out=scaled,
        )
        out = (scaled.view(heads, b * t, n) @ shared_by_head).view(heads, b, t, d)
        through_coef = weights @ self.coef.transpose(1, 2)  # (B, h·T, r)
        out = out.transpose(0, 1) + torch.einsum(
            "bhtr,brhd->bhtd",
            through_coef.view(b, heads, t, -1),
            self._projected_basis(weight, heads),
        )
        return out + self._constant(weight, bias).reshape(1, heads, 1, d)

    def rows(self, index: torch.Tensor) -> LowRankImage:
        """The prompts ``index`` (R,) only."""
        return LowRankImage(
            self.scale[index], self.shared, self.coef[index], self.basis[index], self.offset
        )

    def top_left(
        self, grid: tuple[int, int], size: tuple[int, int], shared: torch.Tensor
    ) -> LowRankImage:
        """The image tokens of the top-left ``size`` (rows, columns) of the token
        ``grid`` (h, w) only, row by row; ``shared`` is ``self.shared``'s rows of those
        tokens, (rows · columns, C), passed in so that it is cut once per image."""
        return LowRankImage(
            _top_left(self.scale, grid, size),
            shared,
            _top_left(self.coef, grid, size),
            self.basis,
            self.offset,
        )


def _top_left(x: torch.Tensor, grid: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    """The values of x (..., h·w), a grid (h, w) row by row along the last axis, at the
    grid's top-left ``size`` (rows, columns): (..., rows · columns)."""
    h, w = grid
    rows, cols = size
    if cols == w:
        return x[..., : rows * w]
    return x.unflatten(-1, (h, w))[..., :rows, :cols].flatten(-2)


class ImageSide:
    """What the decoder computes once per image, whatever the prompts: the image tokens X
    (N, C), their positional encoding P (N, C) and their products with the weights,
    computed on first use and kept."""

    def __init__(self, decoder: MaskDecoder, prompts: PromptEncoder, embedding: torch.Tensor):
        """embedding (1, 256, 64, 64), the image's stored embedding."""
        no_mask = prompts.no_mask_embed.weight.reshape(1, -1, 1, 1)
        self.embedding = embedding
        self.grid: tuple[int, int] = (embedding.shape[-2], embedding.shape[-1])
        self.x = (embedding + no_mask).flatten(2).transpose(1, 2)[0]  # (N, C)
        self.pe = prompts.get_dense_pe().flatten(2).transpose(1, 2)[0]  # (N, C)
        self._cache: dict[str, torch.Tensor] = {}

    def get(self, key: str, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


def _attend_tokens(
    attn: Attention, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
) -> torch.Tensor:
    """``attn`` of few queries (B, T, C) over image keys and values projected alike for
    every prompt, (N, I) -> (B, T, C)."""
    heads = attn.num_heads
    b, t, _ = queries.shape
    q = _split_heads(_linear(queries, attn.q_proj), heads)  # (B, h, T, d)
    d = q.shape[-1]
    # One image side for all: the B·T queries of a head share one product.
    k, v = _split_heads(keys, heads), _split_heads(values, heads)  # (h, N, d)
    q_all = q.transpose(0, 1).reshape(heads, b * t, d)
    weights = torch.softmax((q_all @ k.transpose(1, 2)) * (1.0 / math.sqrt(d)), dim=-1)
    out = (weights @ v).reshape(heads, b, t, d).transpose(0, 1)  # (B, h, T, d)
    return _linear(out.transpose(1, 2).reshape(b, t, heads * d), attn.out_proj)


def _attend_low_rank(
    attn: Attention,
    queries: torch.Tensor,
    image: LowRankImage,
    keys_by_head: torch.Tensor,
    values_by_head: torch.Tensor,
) -> torch.Tensor:
    """``attn`` of few queries (B, T, C) over each prompt's own image tokens ``image``,
    whose keys and values are never formed (:meth:`LowRankImage.scores`,
    :meth:`LowRankImage.attend`): ``keys_by_head`` (h, d, 2N), the shared part's and the
    positional encoding's key projections; ``values_by_head`` (h, N, d) -> (B, T, C)."""
    heads = attn.num_heads
    b, t, _ = queries.shape
    q = _split_heads(_linear(queries, attn.q_proj), heads)  # (B, h, T, d)
    d = q.shape[-1]
    scores = image.scores(
        q * (1.0 / math.sqrt(d)), attn.k_proj.weight, attn.k_proj.bias, keys_by_head
    )
    weights = torch.softmax(scores, dim=-1)  # (B, h·T, N)
    out = image.attend(weights, attn.v_proj.weight, attn.v_proj.bias, values_by_head)
    return _linear(out.transpose(1, 2).reshape(b, t, heads * d), attn.out_proj)


def _keys_by_head(projected: torch.Tensor, extra: torch.Tensor | None, heads: int) -> torch.Tensor:
    """Projections (N, h·d) of the image, and optionally of its positional encoding,
    laid out for products with each head's queries: (h, d, N), or (h, d, 2N) with the
    positional part after the image's."""
    parts = [projected] if extra is None else [projected, extra]
    return torch.cat([p.reshape(p.shape[0], heads, -1).permute(1, 2, 0) for p in parts], dim=2)


def _values_by_head(projected: torch.Tensor, heads: int) -> torch.Tensor:
    """Projections (N, h·d) of the image as (h, N, d), contiguous."""
    return _split_heads(projected, heads).contiguous()


@dataclass
class _ImageUpdate:
    """What ``attn`` from the image to the tokens adds to the image tokens: ``weightsᵀ @
    basis + bias``, weights (B, h·T, N), basis (B, h·T, C); values (B, h, T, d) the
    tokens' values before the output projection (``basis[h·T + t] = values[h, t] @
    W_o,hᵀ``)."""

    weights: torch.Tensor
    basis: torch.Tensor
    values: torch.Tensor
    bias: torch.Tensor


def _attend_image(
    attn: Attention,
    image_queries: torch.Tensor | tuple[LowRankImage, torch.Tensor],
    keys: torch.Tensor,
    values: torch.Tensor,
) -> _ImageUpdate:
    """``attn`` of the image's queries over the tokens keys and values (B, T, C): the
    queries projected alike for all prompts (N, I), or each prompt's image tokens in
    low-rank form with ``image_queries`` = (image, queries_by_head), queries_by_head (h,
    d, 2N) as for :meth:`LowRankImage.scores`."""
    heads = attn.num_heads
    b, t, c = keys.shape
    k = _split_heads(_linear(keys, attn.k_proj), heads)  # (B, h, T, d)
    v = _split_heads(_linear(values, attn.v_proj), heads)
    d = k.shape[-1]
    k = k * (1.0 / math.sqrt(d))
    # Scores with the image along the last axis, (B, h, T, N): the softmax over the 7
    # tokens is then elementwise over long rows (over a last axis of 7 it was among the
    # slowest steps of the decoder on a CPU), and the weights come out in the layout of
    # LowRankImage.coef.
    if isinstance(image_queries, tuple):
        image, by_head = image_queries
        scores = image.scores(k, attn.q_proj.weight, attn.q_proj.bias, by_head)
        scores = scores.view(b, heads, t, -1)
    else:
        q = _split_heads(image_queries, heads)  # (h, N, d)
        k_all = k.transpose(0, 1).reshape(heads, b * t, d)
        scores = (k_all @ q.transpose(1, 2)).reshape(heads, b, t, -1).transpose(0, 1)
    scores = (scores - scores.amax(dim=2, keepdim=True)).exp_()
    scores = scores.div_(scores.sum(dim=2, keepdim=True))
    weights = scores.reshape(b, heads * t, -1)  # (B, h·T, N)
    w_out = attn.out_proj.weight.reshape(c, heads, d)  # (C, h, d)
    basis = torch.einsum("bhtd,chd->bhtc", v, w_out).reshape(b, heads * t, c)
    return _ImageUpdate(weights, basis, v, attn.out_proj.bias)


def _cross(shared_through_out: torch.Tensor, update: _ImageUpdate) -> torch.Tensor:
    """``S[n] · g ⊙ update.basis[b, j]`` (B, h·T, N) for every prompt's basis rows, from
    ``shared_through_out = (S ⊙ g) @ W_o`` (N, I), W_o the update's output projection."""
    heads = update.values.shape[1]
    s = _split_heads(shared_through_out, heads)  # (h, N, d)
    b, _, t, d = update.values.shape
    v_all = update.values.transpose(0, 1).reshape(heads, b * t, d)
    product = v_all @ s.transpose(1, 2)  # (h, B·T, N)
    return product.reshape(heads, b, t, -1).transpose(0, 1).reshape(b, heads * t, -1)


def _layer_norm(
    image: LowRankImage, cross: torch.Tensor, shared_square: torch.Tensor, norm: nn.LayerNorm
) -> LowRankImage:
    """``norm(tokens)`` of a LowRankImage whose offset is 0 and whose shared part is
    centred over the channels, given ``cross = shared[n] · basis[b, j]`` (B, r, N) and
    ``shared_square = |shared[n]|²`` (N,)."""
    c = image.shared.shape[-1]
    basis = _centred(image.basis)  # the shared part is centred: only the basis moves the mean
    gram = basis @ basis.transpose(1, 2)  # (B, r, r)
    scale = image.scale
    # The cross and quadratic terms of |row|², summed over r at once:
    # Σ_j coef[j] · (2 · scale · cross[j] + (gram @ coef)[j])  (B, 1, N).
    terms = (cross * (2 * scale)).baddbmm_(gram, image.coef).mul_(image.coef).sum(1, keepdim=True)
    variance = (scale * scale * shared_square + terms) / c
    inverse = torch.rsqrt(variance.clamp(min=0) + norm.eps)  # (B, 1, N)
    return LowRankImage(
        scale=scale * inverse,
        shared=image.shared * norm.weight,
        coef=image.coef * inverse,
        basis=basis * norm.weight,
        offset=norm.bias,
    )


@dataclass
class DecodedPoints:
    """The decoder's transformer run for B prompts: the tokens (B, T, C) (IoU token, four
    mask tokens, the prompt's), and the image tokens in low-rank form."""

    tokens: torch.Tensor
    image: LowRankImage


def point_tokens(
    decoder: MaskDecoder, prompts: PromptEncoder, coords: torch.Tensor
) -> torch.Tensor:
    """The decoder's input tokens (B, 7, C) for single positive points (B, 2), model
    pixels x then y: the output tokens, the point and a padding point (no box)."""
    b = coords.shape[0]
    points = torch.cat([coords[:, None, :], torch.zeros_like(coords)[:, None, :]], dim=1)
    labels = torch.tensor([LABEL_POSITIVE, LABEL_PADDING], device=coords.device).expand(b, 2)
    sparse = prompts.embed_labelled_points(points, labels)
    output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
    return torch.cat([output_tokens.unsqueeze(0).expand(b, -1, -1), sparse], dim=1)


def run_transformer(
    decoder: MaskDecoder, side: ImageSide, prompt_tokens: torch.Tensor
) -> DecodedPoints:
    """What ``decoder.transformer(image, pe, prompt_tokens)`` returns, for B prompt sets
    (B, T, C) on the image of ``side``; written for SAM's two layers."""
    transformer = decoder.transformer
    first, second = (cast(TwoWayAttentionBlock, layer) for layer in transformer.layers)
    final = transformer.final_attn_token_to_image
    x, pe = side.x, side.pe
    b = prompt_tokens.shape[0]
    query_pe = prompt_tokens

    # ---- layer 1: the image side is the same for every prompt.
    queries = first.norm1(first.self_attn(prompt_tokens, prompt_tokens, prompt_tokens))
    t2i = first.cross_attn_token_to_image
    keys_1 = side.get("k1", lambda: _linear(x + pe, t2i.k_proj))
    values_1 = side.get("v1", lambda: _linear(x, t2i.v_proj))
    queries = first.norm2(queries + _attend_tokens(t2i, queries + query_pe, keys_1, values_1))
    queries = first.norm3(queries + first.mlp(queries))
    i2t = first.cross_attn_image_to_token
    image_q = side.get("q1", lambda: _linear(x + pe, i2t.q_proj))
    update_1 = _attend_image(i2t, image_q, queries + query_pe, queries)
    # x + update, centred over the channels, the update's bias as one more basis row.
    s1 = side.get("s1", lambda: _centred(x))
    n = s1.shape[0]
    ones = torch.ones((b, 1, n), dtype=x.dtype, device=x.device)
    pre_norm = LowRankImage(
        scale=ones,
        shared=s1,
        coef=torch.cat([update_1.weights, ones], dim=1),
        basis=torch.cat([update_1.basis, update_1.bias.expand(b, 1, -1)], dim=1),
        offset=torch.zeros_like(update_1.bias),
    )
    wo_1 = i2t.out_proj.weight  # (C, I)
    cross = torch.cat(
        [
            _cross(side.get("s1_wo1", lambda: s1 @ wo_1), update_1),
            side.get("s1_bo1", lambda: s1 @ update_1.bias).expand(b, 1, -1),
        ],
        dim=1,
    )
    square_1 = side.get("s1_sq", lambda: (s1 * s1).sum(-1))
    keys = _layer_norm(pre_norm, cross, square_1, first.norm4)

    # ---- layer 2: the image side is the prompt's own, in low-rank form.
    q = queries + query_pe
    queries = second.norm1(queries + second.self_attn(q, q, queries))
    t2i = second.cross_attn_token_to_image
    s2 = keys.shared  # centred(x) · γ of the first layer's norm4
    heads = t2i.num_heads
    w = t2i.k_proj.weight
    keys_2 = side.get("k2_heads", lambda: _keys_by_head(s2 @ w.T, pe @ w.T, heads))
    w = t2i.v_proj.weight
    values_2 = side.get("v2_heads", lambda: _values_by_head(s2 @ w.T, heads))
    queries = second.norm2(
        queries + _attend_low_rank(t2i, queries + query_pe, keys, keys_2, values_2)
    )
    queries = second.norm3(queries + second.mlp(queries))
    i2t = second.cross_attn_image_to_token
    w = i2t.q_proj.weight
    image_q_2 = (
        keys,
        side.get("q2_heads", lambda: _keys_by_head(s2 @ w.T, pe @ w.T, i2t.num_heads)),
    )
    update_2 = _attend_image(i2t, image_q_2, queries + query_pe, queries)
    # keys + update: its shared part centred; the rest joins the basis.
    s2c = side.get("s2c", lambda: _centred(s2))
    offset = keys.offset + update_2.bias
    pre_norm = LowRankImage(
        scale=keys.scale,
        shared=s2c,
        coef=torch.cat([keys.coef, update_2.weights, ones], dim=1),
        basis=torch.cat([keys.basis, update_2.basis, offset.expand(b, 1, -1)], dim=1),
        offset=torch.zeros_like(offset),
    )
    # The products of s2c with the basis rows: keys.basis holds the first layer's rows
    # centred and scaled by its norm4's γ, so they run through that layer's W_o.
    gamma = first.norm4.weight
    bias_row = _centred(update_1.bias)
    sg = side.get("s2c_g", lambda: s2c * gamma)
    through_1 = _cross(side.get("s2cg_wo1", lambda: sg @ wo_1), update_1)
    # (sg · centred(u)) = (sg · u) - mean(u) · Σ sg
    through_1 = through_1 - update_1.basis.mean(-1)[:, :, None] * side.get(
        "s2cg_sum", lambda: sg.sum(-1)
    )
    wo_2 = i2t.out_proj.weight
    cross = torch.cat(
        [
            through_1,
            side.get("s2c_b1", lambda: sg @ bias_row).expand(b, 1, -1),
            _cross(side.get("s2c_wo2", lambda: s2c @ wo_2), update_2),
            (s2c @ offset).expand(b, 1, -1),
        ],
        dim=1,
    )
    square_2 = side.get("s2c_sq", lambda: (s2c * s2c).sum(-1))
    keys = _layer_norm(pre_norm, cross, square_2, second.norm4)

    # ---- the tokens' last attention to the image.
    s3 = keys.shared
    heads = final.num_heads
    w = final.k_proj.weight
    keys_3 = side.get("k3_heads", lambda: _keys_by_head(s3 @ w.T, pe @ w.T, heads))
    w = final.v_proj.weight
    values_3 = side.get("v3_heads", lambda: _values_by_head(s3 @ w.T, heads))
    attended = _attend_low_rank(final, queries + query_pe, keys, keys_3, values_3)
    tokens = transformer.norm_final_attn(queries + attended)
    return DecodedPoints(tokens, keys)


def predicted_ious(decoder: MaskDecoder, tokens: torch.Tensor) -> torch.Tensor:
    """The three multimask candidates' predicted IoU (B, 3) from the tokens (B, T, C)."""
    return decoder.iou_prediction_head(tokens[:, 0, :])[:, 1:]


def hypernetworks(decoder: MaskDecoder, tokens: torch.Tensor) -> torch.Tensor:
    """The three multimask candidates' hypernetwork outputs (R, 3, c) from the tokens
    (R, T, C): what each candidate's mask is the product of the upscaled image with."""
    mlps = decoder.output_hypernetworks_mlps
    return torch.stack([mlps[i](tokens[:, 1 + i, :]) for i in range(1, 4)], dim=1)


def upscale_candidates(
    decoder: MaskDecoder,
    side: ImageSide,
    decoded: DecodedPoints,
    rows: torch.Tensor,
    hyper: torch.Tensor | None = None,
    tokens: tuple[int, int] | None = None,
) -> torch.Tensor:
    """The three multimask candidates' low-res logits (R, 3, 256, 256) of the prompts
    ``rows`` (R,): the decoder's output upscaling and hypernetworks. ``hyper`` (R, 3, c),
    the rows' :func:`hypernetworks`, when the caller has them. ``tokens`` (rows,
    columns): only the logits of that top-left part of the 64 × 64 image tokens, (R, 3,
    4 · rows, 4 · columns), the same values (each token makes its own 4 × 4 logits, as
    the transposed convolutions have kernel 2 and stride 2); an image that does not
    fill the model's square input needs no more than its own part.

    Both transposed convolutions (kernel 2, stride 2) are a linear map per input pixel,
    so they run as matrix products on channels-last pixels: the first on the low-rank
    form (no (N, C) image tokens are formed), the second on the mid-resolution pixels.
    Each GELU writes its pixels in the order of the next resolution's rows, so the
    hypernetworks' product, taken last, lays the (R, 3, 256, 256) logits out as an image
    with no reordering pass of its own.
    """
    up_1, norm, act_1, up_2, act_2 = decoder.output_upscaling
    up_1, up_2 = cast(nn.ConvTranspose2d, up_1), cast(nn.ConvTranspose2d, up_2)
    norm = cast(LayerNorm2d, norm)
    c_in, c_mid = up_1.weight.shape[:2]
    c_out = up_2.weight.shape[1]
    # (C_in, C_out, 2, 2) -> (2·2·C_out, C_in): output rows in (i, j, channel) order.
    weight_1 = side.get("up_w1", lambda: up_1.weight.permute(2, 3, 1, 0).reshape(4 * c_mid, c_in))
    bias_1 = None if up_1.bias is None else up_1.bias.repeat(4)
    # (C_in, C_out, 2, 2) -> (2·2·C_out, C_in) for F.linear: output (i, j, channel).
    weight_2 = side.get(
        "up_w2", lambda: up_2.weight.permute(2, 3, 1, 0).reshape(4 * c_out, c_mid).contiguous()
    )
    bias_2 = None if up_2.bias is None else up_2.bias.repeat(4)
    shared = side.get("s3_up", lambda: decoded.image.shared @ weight_1.T)
    image = decoded.image.rows(rows)
    r = len(rows)
    h, w = side.grid
    if tokens is not None and tuple(tokens) != (h, w):
        grid, size = (h, w), (tokens[0], tokens[1])
        shared = side.get(f"s3_up_{size}", lambda: _top_left(shared.T, grid, size).T.contiguous())
        cut = side.get(f"s3_{size}", lambda: _top_left(image.shared.T, grid, size).T.contiguous())
        image = image.top_left(grid, size, cut)
        h, w = size
    flat = image.project(weight_1, bias_1, shared)  # (R, N, 2·2·C_mid)
    y = F.layer_norm(flat.reshape(r, -1, c_mid), (c_mid,), norm.weight, norm.bias, norm.eps)
    # (R, N·4, C_mid), pixels (y, x, i1, j1), through the GELU into (y, i1, x, j1) order:
    # the 2h × 2w pixels row by row.
    mid = y.new_empty((r, h, 2, w, 2 * c_mid))
    _gelu_into(act_1, y.view(r, h, w, 2, 2 * c_mid).transpose(2, 3), mid)
    z = F.linear(mid.view(r, -1, c_mid), weight_2, bias_2)  # (R, N·4, (i2, j2, channel))
    # Through the GELU into (Y, i2, X, j2) order: the pixels of the 4h × 4w logits row by
    # row, so that the hypernetworks' product lays the logits out as an image.
    out = z.new_empty((r, 2 * h, 2, 2 * w, 2 * c_out))
    _gelu_into(act_2, z.view(r, 2 * h, 2 * w, 2, 2 * c_out).transpose(2, 3), out)
    if hyper is None:
        hyper = hypernetworks(decoder, decoded.tokens[rows])
    logits = hyper @ out.view(r, -1, c_out).transpose(1, 2)  # (R, 3, 16N)
    return logits.view(r, 3, 4 * h, 4 * w)


def _gelu_into(act: nn.Module, x: torch.Tensor, out: torch.Tensor) -> None:
    """``act(x)`` (SAM's GELU) written into ``out``, contiguous, of x's shape."""
    gelu = cast(nn.GELU, act)
    torch.ops.aten.gelu.out(x, approximate=gelu.approximate, out=out)
