"""A dark Fusion palette that matches the waveform view (studio software is usually dark)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_COLORS = {
    QPalette.ColorRole.Window: "#262a31",
    QPalette.ColorRole.WindowText: "#d8dee9",
    QPalette.ColorRole.Base: "#1e2127",
    QPalette.ColorRole.AlternateBase: "#2b3038",
    QPalette.ColorRole.ToolTipBase: "#2b3038",
    QPalette.ColorRole.ToolTipText: "#d8dee9",
    QPalette.ColorRole.Text: "#d8dee9",
    QPalette.ColorRole.Button: "#2f343d",
    QPalette.ColorRole.ButtonText: "#d8dee9",
    QPalette.ColorRole.BrightText: "#ff5964",
    QPalette.ColorRole.Highlight: "#3d6e99",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#5aa9e6",
    QPalette.ColorRole.PlaceholderText: "#7b8491",
}


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    for role, color in _COLORS.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7380"))
    app.setPalette(palette)
