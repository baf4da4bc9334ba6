"""TinyViT, MobileSAM's image encoder (the 5M-parameter variant distilled from
SAM's ViT-H).

Input: (B, 3, 1024, 1024) normalised, padded images. Output: (B, 256, 64, 64).
Stages: a convolutional stem (1024 -> 256), one stage of MBConv blocks
(256 -> 128), then three stages of windowed-attention blocks at 128, 64 and 64.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from inference.modeling.common import neck


class Conv2d_BN(nn.Sequential):  # noqa: N801 - the checkpoint's own name
    """Convolution without bias followed by batch norm (``c``, ``bn``)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 1,
        stride: int = 1,
        pad: int = 0,
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.add_module(
            "c", nn.Conv2d(in_ch, out_ch, kernel, stride, pad, groups=groups, bias=False)
        )
        self.add_module("bn", nn.BatchNorm2d(out_ch))


class PatchEmbed(nn.Module):
    """Two stride-2 convolutions: (B, 3, H, W) -> (B, C, H/4, W/4)."""

    def __init__(self, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(
            Conv2d_BN(in_chans, embed_dim // 2, 3, 2, 1),
            nn.GELU(),
            Conv2d_BN(embed_dim // 2, embed_dim, 3, 2, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual block on (B, C, H, W)."""

    def __init__(self, dim: int, expand_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * expand_ratio)
        self.conv1 = Conv2d_BN(dim, hidden, 1)
        self.act1 = nn.GELU()
        self.conv2 = Conv2d_BN(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act2 = nn.GELU()
        self.conv3 = Conv2d_BN(hidden, dim, 1)
        self.act3 = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.conv1(x))
        y = self.act2(self.conv2(y))
        return self.act3(self.conv3(y) + x)


class PatchMerging(nn.Module):
    """Downsample to ``out_dim`` channels; returns tokens (B, H'*W', out_dim).

    Accepts (B, C, H, W) or tokens (B, H*W, C) laid out on ``input_resolution``.
    MobileSAM keeps the last stage at 64×64, so merging into 320 channels uses stride 1.
    """

    def __init__(self, input_resolution: tuple[int, int], dim: int, out_dim: int) -> None:
        super().__init__()
        self.input_resolution = input_resolution
        stride = 1 if out_dim in (320, 448, 576) else 2
        self.conv1 = Conv2d_BN(dim, out_dim, 1)
        self.act = nn.GELU()
        self.conv2 = Conv2d_BN(out_dim, out_dim, 3, stride, 1, groups=out_dim)
        self.conv3 = Conv2d_BN(out_dim, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            h, w = self.input_resolution
            x = x.view(x.shape[0], h, w, -1).permute(0, 3, 1, 2)
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        x = self.conv3(x)
        return x.flatten(2).transpose(1, 2)


class ConvLayer(nn.Module):
    """The first stage: MBConv blocks, then patch merging."""

    def __init__(
        self,
        dim: int,
        input_resolution: tuple[int, int],
        depth: int,
        out_dim: int,
        expand_ratio: float,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(MBConv(dim, expand_ratio) for _ in range(depth))
        self.downsample = PatchMerging(input_resolution, dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.downsample(x)


class Mlp(nn.Module):
    """Pre-norm MLP on tokens (``norm``, ``fc1``, ``fc2``)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.norm(x))))


class Attention(nn.Module):
    """Pre-norm multi-head attention over one window of tokens (B, N, C) with a
    learned bias per head and per (|dy|, |dx|) offset between two positions."""

    attention_bias_idxs: torch.Tensor  # (N, N) offset index of each pair of positions

    def __init__(self, dim: int, num_heads: int, window: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.key_dim = dim // num_heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * self.key_dim * num_heads)
        self.proj = nn.Linear(self.key_dim * num_heads, dim)

        points = list(itertools.product(range(window), range(window)))
        offsets: dict[tuple[int, int], int] = {}
        idxs = []
        for p1 in points:
            for p2 in points:
                offset = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
                idxs.append(offsets.setdefault(offset, len(offsets)))
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, len(offsets)))
        self.register_buffer(
            "attention_bias_idxs",
            torch.tensor(idxs, dtype=torch.long).view(len(points), len(points)),
            persistent=False,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        qkv = self.qkv(self.norm(x)).view(b, n, self.num_heads, 3 * self.key_dim)
        q, k, v = qkv.permute(0, 2, 1, 3).split(self.key_dim, dim=3)
        bias = self.attention_biases[:, self.attention_bias_idxs]  # (heads, N, N)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        return self.proj(out.transpose(1, 2).reshape(b, n, -1))


class TinyViTBlock(nn.Module):
    """Windowed attention, a depthwise 3×3 convolution, then the MLP.

    Tokens (B, H*W, C) laid out on ``input_resolution``.
    """

    def __init__(
        self,
        dim: int,
        input_resolution: tuple[int, int],
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
    ) -> None:
        super().__init__()
        self.input_resolution = input_resolution
        self.window_size = window_size
        self.attn = Attention(dim, num_heads, window_size)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.local_conv = Conv2d_BN(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.input_resolution
        b, length, c = x.shape
        ws = self.window_size
        shortcut = x
        if h == ws and w == ws:
            x = self.attn(x)
        else:
            x = x.view(b, h, w, c)
            pad_b = (ws - h % ws) % ws
            pad_r = (ws - w % ws) % ws
            if pad_b or pad_r:
                x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
            ph, pw = h + pad_b, w + pad_r
            nh, nw = ph // ws, pw // ws
            x = x.view(b, nh, ws, nw, ws, c).transpose(2, 3).reshape(b * nh * nw, ws * ws, c)
            x = self.attn(x)
            x = x.view(b, nh, nw, ws, ws, c).transpose(2, 3).reshape(b, ph, pw, c)
            x = x[:, :h, :w].reshape(b, length, c)
        x = shortcut + x
        x = x.transpose(1, 2).reshape(b, c, h, w)
        x = self.local_conv(x).view(b, c, length).transpose(1, 2)
        return x + self.mlp(x)


class BasicLayer(nn.Module):
    """An attention stage: TinyViT blocks, then optional patch merging."""

    def __init__(
        self,
        dim: int,
        input_resolution: tuple[int, int],
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
        out_dim: int | None,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TinyViTBlock(dim, input_resolution, num_heads, window_size, mlp_ratio)
            for _ in range(depth)
        )
        self.downsample = (
            PatchMerging(input_resolution, dim, out_dim) if out_dim is not None else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.downsample(x) if self.downsample is not None else x


class TinyViT(nn.Module):
    """(B, 3, 1024, 1024) -> (B, 256, 64, 64).

    ``norm_head`` and ``head`` are TinyViT's classification head: unused by SAM, but
    part of MobileSAM's checkpoint, so they are kept for a strict load.
    """

    def __init__(
        self,
        img_size: int = 1024,
        embed_dims: tuple[int, ...] = (64, 128, 160, 320),
        depths: tuple[int, ...] = (2, 2, 6, 2),
        num_heads: tuple[int, ...] = (2, 4, 5, 10),
        window_sizes: tuple[int, ...] = (7, 7, 14, 7),
        mlp_ratio: float = 4.0,
        mbconv_expand_ratio: float = 4.0,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        self.img_size = img_size
        self.patch_embed = PatchEmbed(3, embed_dims[0])
        res = img_size // 4
        self.layers = nn.ModuleList()
        for i, dim in enumerate(embed_dims):
            # The last merge keeps the resolution (stride 1), so stage 3 runs at stage 2's.
            side = res // (2 ** (i - 1 if i == 3 else i))
            last = i == len(embed_dims) - 1
            out_dim = embed_dims[min(i + 1, len(embed_dims) - 1)]
            layer: nn.Module
            if i == 0:
                layer = ConvLayer(dim, (side, side), depths[i], out_dim, mbconv_expand_ratio)
            else:
                layer = BasicLayer(
                    dim,
                    (side, side),
                    depths[i],
                    num_heads[i],
                    window_sizes[i],
                    mlp_ratio,
                    None if last else out_dim,
                )
            self.layers.append(layer)
        self.norm_head = nn.LayerNorm(embed_dims[-1])
        self.head = nn.Linear(embed_dims[-1], num_classes)
        self.neck = neck(embed_dims[-1], 256)
        self.out_side = res // 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        b, _, c = x.shape
        x = x.view(b, self.out_side, self.out_side, c).permute(0, 3, 1, 2)
        return self.neck(x)
