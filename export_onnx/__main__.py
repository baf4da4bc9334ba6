"""``python -m export_onnx [--model NAME] [--out DIR]``: see :mod:`export_onnx.build`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from export_onnx.build import build_onnx
from inference.registry import DEFAULT_MODEL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export_onnx", description=__doc__)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, default=None, help="default: the model's cache folder")
    parser.add_argument("--no-encoder", action="store_true", help="skip the image encoder")
    parser.add_argument("--force", action="store_true", help="build even if up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        result = build_onnx(
            args.model, args.out, image_encoder=not args.no_encoder, force=args.force
        )
    except (KeyError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    state = "up to date" if result.reused else "written"
    print(f"{result.out_dir / 'manifest.json'} ({state})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
