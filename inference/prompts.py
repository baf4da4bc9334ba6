"""The vocabulary of prompts, shared by the PyTorch model, the ONNX build and the
browser (through the manifest). No torch here, so light tools can import it."""

from __future__ import annotations

# Point labels: what SAM's point embeddings stand for.
LABEL_PADDING = -1
LABEL_NEGATIVE = 0
LABEL_POSITIVE = 1
LABEL_BOX_TOP_LEFT = 2
LABEL_BOX_BOTTOM_RIGHT = 3

# Mask logits above this are inside the mask.
MASK_THRESHOLD = 0.0
