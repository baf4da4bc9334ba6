"""Quality rules for labelled images, in pure Python (standard library only).

The same code runs natively in CPython (the web app's built-in checks) and in Pyodide
(the annotator's browser, and the server's sandbox for rule code written by project
managers), so nothing here may import a compiled package or anything outside the
standard library.

- :mod:`qualityrules.model`: what a rule sees (:class:`ImageData`, :class:`AnnotationData`)
  and what it returns (:class:`Problem`).
- :mod:`qualityrules.rle`: COCO RLE helpers that work on runs directly (decode, area,
  connected parts, holes, overlap).
- :mod:`qualityrules.builtin`: the built-in rules and their parameters.
- :mod:`qualityrules.engine`: runs a set of rules on an image and checks what they return.
"""

from __future__ import annotations

from qualityrules.engine import RuleError, run_rules
from qualityrules.model import AnnotationData, ImageData, Problem

__all__ = ["AnnotationData", "ImageData", "Problem", "RuleError", "run_rules"]
