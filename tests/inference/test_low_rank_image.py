"""The low-rank image tokens' attention products against the projected tokens they stand
for (``LowRankImage.project``), on random tensors of the decoder's shapes."""

from __future__ import annotations

import pytest
import torch

from inference.batched_decoder import LowRankImage, _keys_by_head, _values_by_head

B, R, N, C, HEADS, D, T = 3, 5, 64, 32, 4, 6, 7


def low_rank_image(seed: int) -> LowRankImage:
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    return LowRankImage(
        scale=rand(B, 1, N).abs() + 0.1,
        shared=rand(N, C),
        coef=rand(B, R, N),
        basis=rand(B, R, C),
        offset=rand(C),
    )


@pytest.mark.parametrize("with_positions", [False, True])
def test_scores_are_the_queries_products_with_the_projected_tokens(with_positions: bool) -> None:
    image = low_rank_image(1)
    generator = torch.Generator().manual_seed(2)
    weight = torch.randn(HEADS * D, C, generator=generator, dtype=torch.float64)
    bias = torch.randn(HEADS * D, generator=generator, dtype=torch.float64)
    positions = torch.randn(N, HEADS * D, generator=generator, dtype=torch.float64)
    queries = torch.randn(B, HEADS, T, D, generator=generator, dtype=torch.float64)
    shared = image.shared @ weight.T
    extra = positions if with_positions else None

    got = image.scores(queries, weight, bias, _keys_by_head(shared, extra, HEADS))

    projected = image.project(weight, bias, shared)  # (B, N, h·d)
    if extra is not None:
        projected = projected + extra  # the positional term, the same for every prompt
    by_head = projected.reshape(B, N, HEADS, D).permute(0, 2, 1, 3)  # (B, h, N, d)
    want = (queries @ by_head.transpose(-1, -2)).reshape(B, HEADS * T, N)
    torch.testing.assert_close(got, want)


def test_attend_is_the_weighted_sum_of_the_projected_tokens() -> None:
    image = low_rank_image(3)
    generator = torch.Generator().manual_seed(4)
    weight = torch.randn(HEADS * D, C, generator=generator, dtype=torch.float64)
    bias = torch.randn(HEADS * D, generator=generator, dtype=torch.float64)
    logits = torch.randn(B, HEADS * T, N, generator=generator, dtype=torch.float64)
    weights = torch.softmax(logits, dim=-1)
    shared = image.shared @ weight.T

    got = image.attend(weights, weight, bias, _values_by_head(shared, HEADS))

    projected = image.project(weight, bias, shared)  # (B, N, h·d)
    by_head = projected.reshape(B, N, HEADS, D).permute(0, 2, 1, 3)  # (B, h, N, d)
    want = weights.reshape(B, HEADS, T, N) @ by_head
    torch.testing.assert_close(got, want)
