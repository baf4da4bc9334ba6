"""The allocator setting for the CPU decoder: it takes effect on Linux's C library and
only once, and tensors still behave afterwards."""

from __future__ import annotations

import sys

import pytest
import torch

from inference import allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keeping_freed_memory_takes_effect_once() -> None:
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory() is True  # a second call changes nothing
    big = torch.ones(8, 4096, 128)  # 16 MiB: below the raised mmap threshold
    assert float((big * 2).sum()) == 2 * big.numel()
