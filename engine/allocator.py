"""Memory allocator settings for a batch run: keep freed memory for reuse.

A batch allocates and frees the same large buffers block after block (a 32 MiB block of text, its
columns, its decisions). By default both allocators in the process hand freed memory back to the
kernel soon after (polars's jemalloc purges pages freed half a second ago; glibc trims its heaps), and the
next block faults the same pages in again: on this 2-core VM a 1,000,000-row CSV batch took about
710,000 page faults and 5.4–5.7 s of system time. Keeping freed memory cut that to about 360,000
faults and 3.5–4.2 s, and the run from 10.0–11.0 s to 9.2–9.9 s (three runs each, alternating).
Memory stays bounded: what is kept is the batch's working set, held until the process ends (peak
RSS 1.11 → 1.14–1.18 GiB for that CSV; 775 → 930 MiB for a 100,000-row xlsx, which also ran faster).

Settings given by the user in the environment win; nothing here changes what a batch computes.
"""
from __future__ import annotations

import ctypes
import os
import sys

# polars's jemalloc: one arena, never purge, no purging thread. polars sets dirty_decay_ms:500 itself
# and appends _RJEM_MALLOC_CONF to it as it starts (pola-rs/polars#18088); the last value of an option wins.
JEMALLOC_CONF = "narenas:1,dirty_decay_ms:-1,muzzy_decay_ms:-1,background_thread:false"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory() -> None:
    """Call before polars is first imported: its allocator reads its settings when it starts."""
    if "polars" not in sys.modules:
        os.environ.setdefault("_RJEM_MALLOC_CONF", JEMALLOC_CONF)
    if sys.platform != "linux" or "MALLOC_TRIM_THRESHOLD_" in os.environ or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)  # blocks of text come from the heap, not fresh mappings
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 32)  # and the heap is not trimmed after each block
    except (OSError, AttributeError):
        pass  # not glibc (musl, for one): its defaults stand
