"""Giving freed C-heap memory back to the system."""

from __future__ import annotations

import ctypes
import ctypes.util


def release_free_memory() -> None:
    """Return the heap pages freed since to the system. glibc keeps freed memory in its
    arenas otherwise: the buffers of loading the models or building the word tables, and what
    messages leave behind in the executor threads' arenas (some 10–35 MB per worker). A no-op
    where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return  # not glibc
    trim(0)
