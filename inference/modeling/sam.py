"""The SAM container: an image encoder, a prompt encoder and a mask decoder."""

from __future__ import annotations

import torch
from torch import nn

from inference.modeling.mask_decoder import MaskDecoder
from inference.modeling.prompt_encoder import PromptEncoder


class Sam(nn.Module):
    """Holds the three networks; encoding and prediction live in
    :mod:`inference.encode` and :mod:`inference.predict`."""

    def __init__(self, image_encoder: nn.Module) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = PromptEncoder()
        self.mask_decoder = MaskDecoder()

    @property
    def device(self) -> torch.device:
        return self.mask_decoder.iou_token.weight.device
