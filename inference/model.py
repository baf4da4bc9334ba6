"""Loading verified checkpoints into models, once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from inference.build import ARCHITECTURES
from inference.modeling.sam import Sam
from inference.registry import DEFAULT_MODEL, ModelSpec, get_model
from inference.weights import checkpoint_path, verify


def load_checkpoint(spec: ModelSpec, path: Path | None = None) -> Sam:
    """Build ``spec``'s architecture and load its verified weights strictly, on the CPU."""
    path = path or checkpoint_path(spec)
    verify(path, spec)
    model = ARCHITECTURES[spec.architecture]()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def choose_device(preferred: str | None = None) -> torch.device:
    """``preferred`` if given, else cuda, then mps, then cpu."""
    if preferred:
        return torch.device(preferred)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@lru_cache(maxsize=4)
def load_sam(name: str = DEFAULT_MODEL, device: str | None = None) -> Sam:
    """The model ``name`` on ``device`` (auto by default), loaded once per process."""
    spec = get_model(name)
    return load_checkpoint(spec).to(choose_device(device))
