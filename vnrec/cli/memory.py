"""Process-wide allocator settings that a command can opt into."""

from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_HEAP_KEPT = (1 << 31) - 1
_MMAP_ABOVE = 1 << 30


def keep_freed_heap() -> None:
    """Make glibc keep freed memory for reuse instead of returning it to the system.

    glibc serves blocks above its mmap threshold (at most 32 MB) with fresh pages and hands
    them back on free, so a process that allocates and frees blocks of tens of MB again and
    again (import) takes a page fault for every page of every block: 0.8 s of system time
    per million envelopes, measured. Served from the heap and kept, they reuse warm pages;
    the cost is a resident size that stays at its peak until the process ends."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl): its allocator has no such knobs
        log.debug("glibc not found; allocator left as it is")
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_ABOVE)
    mallopt(_M_TRIM_THRESHOLD, _HEAP_KEPT)


# Arrow's jemalloc keeps freed pages for seconds before returning them, longer than a whole
# replay of a day lasts, so its peak holds every batch it ever freed. Returned 50 ms after
# being freed instead (and at once from the "muzzy" state): a 3M-event replay peaks at
# ~235 MB instead of ~255 MB, the whole `vnrec replay` at ~244 instead of ~265, for about
# 3% more CPU in `replay()` and no measurable change of the command's time (interleaved
# runs, 4-5 each; 100 ms kept ~4 MB more, 0 ms cost 13% more CPU).
ARROW_FREED_PAGES = ("JE_ARROW_MALLOC_CONF", "dirty_decay_ms:50,muzzy_decay_ms:0")


def return_freed_arrow_pages() -> None:
    """Have Arrow's allocator hand freed pages back to the system soon (see above), in this
    process and the worker processes it starts. jemalloc reads this once, so it must run
    before pyarrow is first imported; a user's own setting wins."""
    os.environ.setdefault(*ARROW_FREED_PAGES)
