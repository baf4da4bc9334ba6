"""``python -m inference.fetch [NAME]``: fetch and verify a checkpoint, print its path.

``python -m inference.fetch --register NAME --architecture vit_b --file PATH``
records a local checkpoint under a new name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inference.registry import DEFAULT_MODEL, all_models, register_local
from inference.weights import CheckpointInvalid, FetchFailed, fetch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.fetch", description=__doc__)
    parser.add_argument(
        "name", nargs="?", default=DEFAULT_MODEL, help=f"one of: {', '.join(sorted(all_models()))}"
    )
    parser.add_argument("--register", metavar="NAME", help="register a local checkpoint")
    parser.add_argument("--architecture", help="vit_t, vit_b, vit_l or vit_h")
    parser.add_argument("--file", type=Path, help="the local checkpoint to register")
    args = parser.parse_args(argv)
    try:
        if args.register:
            if not (args.architecture and args.file):
                parser.error("--register needs --architecture and --file")
            spec = register_local(args.register, args.architecture, args.file)
            print(spec.sources[0].path)  # type: ignore[union-attr]
            return 0
        print(fetch(args.name))
        return 0
    except (CheckpointInvalid, FetchFailed, ValueError, KeyError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
