"""jukestudio.gui: the workstation window (PySide6 + pyqtgraph). Nothing below this package imports Qt."""

from jukestudio.gui._bool_refcount import make_bools_immortal

make_bools_immortal()  # before any signal is emitted; see _bool_refcount.py
