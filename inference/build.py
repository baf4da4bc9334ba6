"""Architectures by name: ``{"vit_t": ..., "vit_b": ..., ...}`` -> an untrained :class:`Sam`."""

from __future__ import annotations

from collections.abc import Callable

from inference.modeling.sam import Sam
from inference.modeling.tiny_vit import TinyViT
from inference.modeling.vit import ImageEncoderViT


def build_vit_t() -> Sam:
    """MobileSAM: TinyViT-5M image encoder."""
    return Sam(TinyViT())


def build_vit_b() -> Sam:
    return Sam(ImageEncoderViT(768, 12, 12, (2, 5, 8, 11)))


def build_vit_l() -> Sam:
    return Sam(ImageEncoderViT(1024, 24, 16, (5, 11, 17, 23)))


def build_vit_h() -> Sam:
    return Sam(ImageEncoderViT(1280, 32, 16, (7, 15, 23, 31)))


ARCHITECTURES: dict[str, Callable[[], Sam]] = {
    "vit_t": build_vit_t,
    "vit_b": build_vit_b,
    "vit_l": build_vit_l,
    "vit_h": build_vit_h,
}
