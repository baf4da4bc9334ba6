"""SAM's prompt encoder: points, boxes and a low-res mask to embeddings.

Coordinates are in the model frame: pixels of the resized (longest side 1024),
unpadded image, x then y. See :mod:`inference.transforms`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from inference.modeling.common import LayerNorm2d
from inference.prompts import LABEL_BOX_BOTTOM_RIGHT, LABEL_BOX_TOP_LEFT, LABEL_PADDING


class PositionEmbeddingRandom(nn.Module):
    """Random Fourier features of normalised (x, y) positions."""

    positional_encoding_gaussian_matrix: torch.Tensor  # (2, num_pos_feats) buffer

    def __init__(self, num_pos_feats: int = 128) -> None:
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn((2, num_pos_feats)))

    def _encode(self, coords: torch.Tensor) -> torch.Tensor:
        """coords in [0, 1], (..., 2) -> (..., 2 * num_pos_feats)."""
        coords = (2 * coords - 1) @ self.positional_encoding_gaussian_matrix
        coords = 2 * math.pi * coords
        return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)

    def grid(self, size: tuple[int, int]) -> torch.Tensor:
        """Encoding of every cell centre of an (h, w) grid: (C, h, w)."""
        h, w = size
        device = self.positional_encoding_gaussian_matrix.device
        ones = torch.ones((h, w), device=device, dtype=torch.float32)
        y = (ones.cumsum(dim=0) - 0.5) / h
        x = (ones.cumsum(dim=1) - 0.5) / w
        return self._encode(torch.stack([x, y], dim=-1)).permute(2, 0, 1)

    def forward_with_coords(
        self, coords: torch.Tensor, image_size: tuple[int, int]
    ) -> torch.Tensor:
        """coords (B, N, 2) in model pixels, x then y; image_size (h, w)."""
        coords = coords.clone().float()
        coords[..., 0] = coords[..., 0] / image_size[1]
        coords[..., 1] = coords[..., 1] / image_size[0]
        return self._encode(coords)


class PromptEncoder(nn.Module):
    def __init__(
        self,
        embed_dim: int = 256,
        image_embedding_size: tuple[int, int] = (64, 64),
        input_image_size: tuple[int, int] = (1024, 1024),
        mask_in_chans: int = 16,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.image_embedding_size = image_embedding_size
        self.input_image_size = input_image_size
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        # Indexed by label: negative, positive, box top-left, box bottom-right.
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            nn.GELU(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            nn.GELU(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def get_dense_pe(self) -> torch.Tensor:
        """Positional encoding of the image embedding grid: (1, 256, 64, 64)."""
        return self.pe_layer.grid(self.image_embedding_size).unsqueeze(0)

    def embed_labelled_points(self, coords: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """coords (B, N, 2) model pixels; labels (B, N) in {-1, 0, 1, 2, 3} -> (B, N, 256).

        Written with arithmetic masks rather than boolean indexing so that it exports
        to ONNX with any number of points.
        """
        coords = coords + 0.5  # pixel centres
        pe = self.pe_layer.forward_with_coords(coords, self.input_image_size)
        labels = labels.unsqueeze(-1).to(pe.dtype)
        pe = pe * (labels != LABEL_PADDING).to(pe.dtype)
        pe = pe + self.not_a_point_embed.weight * (labels == LABEL_PADDING).to(pe.dtype)
        for i in range(len(self.point_embeddings)):
            embedding = self.point_embeddings[i]
            assert isinstance(embedding, nn.Embedding)
            pe = pe + embedding.weight * (labels == i).to(pe.dtype)
        return pe

    def embed_mask(self, mask_input: torch.Tensor, has_mask: torch.Tensor) -> torch.Tensor:
        """mask_input (B, 1, 256, 256) logits; has_mask (1,) 0 or 1 -> (B, 256, 64, 64)."""
        dense = self.mask_downscaling(mask_input) * has_mask
        no_mask = self.no_mask_embed.weight.reshape(1, -1, 1, 1)
        return dense + (1 - has_mask) * no_mask

    def forward(
        self,
        points: tuple[torch.Tensor, torch.Tensor] | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sparse (B, N, 256) and dense (B, 256, 64, 64) embeddings, as SAM's predictor
        makes them: a padding point is added when there are points but no box.

        points: coords (B, N, 2) and labels (B, N); boxes (B, 4) x0 y0 x1 y1;
        masks (B, 1, 256, 256). All coordinates in model pixels.
        """
        if points is not None:
            batch = points[0].shape[0]
        elif boxes is not None:
            batch = boxes.shape[0]
        elif masks is not None:
            batch = masks.shape[0]
        else:
            batch = 1
        device = self.no_mask_embed.weight.device
        coords_parts: list[torch.Tensor] = []
        label_parts: list[torch.Tensor] = []
        if points is not None:
            coords_parts.append(points[0])
            label_parts.append(points[1])
            if boxes is None:
                coords_parts.append(torch.zeros((batch, 1, 2), device=device))
                label_parts.append(torch.full((batch, 1), LABEL_PADDING, device=device))
        if boxes is not None:
            coords_parts.append(boxes.reshape(batch, 2, 2))
            corner_labels = torch.tensor(
                [LABEL_BOX_TOP_LEFT, LABEL_BOX_BOTTOM_RIGHT], device=device
            )
            label_parts.append(corner_labels.expand(batch, 2))
        if coords_parts:
            sparse = self.embed_labelled_points(
                torch.cat(coords_parts, dim=1).float(), torch.cat(label_parts, dim=1)
            )
        else:
            sparse = torch.empty((batch, 0, self.embed_dim), device=device)
        if masks is not None:
            dense = self.mask_downscaling(masks)
        else:
            h, w = self.image_embedding_size
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(batch, -1, h, w)
        return sparse, dense
