"""The peak resident memory of this process, for the memory benchmarks and their tests."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

MIB = 1024 * 1024


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB.

    On Linux it is the memory map's high-water mark (``VmHWM`` in /proc/self/status),
    which starts afresh when a program is executed. ``getrusage``'s ``ru_maxrss`` does
    not: it keeps the high-water mark of the process that forked this one, so a
    measurement started from a large test run (2.3 GB) read as 2.3 GB before it began.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (MIB if sys.platform == "darwin" else 1024)
