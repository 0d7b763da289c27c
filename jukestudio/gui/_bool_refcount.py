"""Work around a reference-counting bug of PySide6 6.12 on Python < 3.12.

In PySide6 6.12.0, ``SignalInstance.emit()`` and ``disconnect()`` return ``True``/``False`` without
taking a reference to it. Each call made from Python therefore lowers the reference count of the
``True`` or ``False`` singleton by one; after a few thousand signal emissions CPython 3.11 aborts
with "Fatal Python error: bool_dealloc". Python 3.12 made the singletons immortal, which hides the
bug there. We do the same by hand: give both singletons a reference count no program can use up.
"""

from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 40  # 10^12 emissions before the count would return to where it started


def make_bools_immortal() -> bool:
    """Raise the reference counts of True and False once; True when applied (Python < 3.12)."""
    if sys.version_info >= (3, 12) or getattr(make_bools_immortal, "_done", False):
        return False
    for singleton in (True, False):
        # ob_refcnt is the first field of every object in a release build of CPython.
        ctypes.c_ssize_t.from_address(id(singleton)).value += _HEADROOM
    make_bools_immortal._done = True  # type: ignore[attr-defined]
    return True
