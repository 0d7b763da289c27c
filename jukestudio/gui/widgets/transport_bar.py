"""The transport bar: play/pause, stop, loop, position, volume. Pure view; the window wires it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolButton, QWidget

from jukestudio.gui.icons import icon


def format_position(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{secs:05.2f}"


class TransportBar(QWidget):
    play_toggled = Signal()
    stop_requested = Signal()
    volume_changed = Signal(float)  # 0..1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.play_button = QToolButton(self)
        self.play_button.setIcon(icon("play"))
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.play_toggled)
        self.stop_button = QToolButton(self)
        self.stop_button.setIcon(icon("stop"))
        self.stop_button.setToolTip("Stop and return to start (Home)")
        self.stop_button.clicked.connect(self.stop_requested)
        self.loop_button = QToolButton(self)
        self.loop_button.setIcon(icon("loop"))
        self.loop_button.setCheckable(True)
        self.loop_button.setToolTip("Loop the selected region (L)")
        self.position_label = QLabel(format_position(0.0), self)
        self.position_label.setMinimumWidth(120)
        self.take_label = QLabel("", self)
        self.status_label = QLabel("", self)
        self.status_label.setStyleSheet("color: #9aa5b1;")
        # a long reason must not widen the window past a laptop screen: it is cut, the tooltip has it all
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_label.setMinimumWidth(60)
        self.volume = QSlider(Qt.Orientation.Horizontal, self)
        self.volume.setRange(0, 100)
        self.volume.setValue(80)
        self.volume.setMaximumWidth(120)
        self.volume.setToolTip("Volume")
        self.volume.valueChanged.connect(lambda v: self.volume_changed.emit(v / 100.0))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for widget in (self.play_button, self.stop_button, self.loop_button, self.position_label, self.take_label):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.status_label, 2)
        layout.addWidget(QLabel("Vol", self))
        layout.addWidget(self.volume)

    def set_playing(self, state: str) -> None:
        """``state`` is Audition's "playing" / "stopped"."""
        self.play_button.setIcon(icon("pause" if state == "playing" else "play"))

    def set_position(self, seconds: float, duration: float) -> None:
        self.position_label.setText(f"{format_position(seconds)} / {format_position(duration)}")

    def set_take(self, text: str) -> None:
        self.take_label.setText(text)

    def set_available(self, available: bool, reason: str = "") -> None:
        """No audio device: the buttons stay usable for the playhead, and the bar says why it is silent."""
        if available:
            self.status_label.setText("")
            self.status_label.setToolTip("")
            return
        full = reason if reason.lower().startswith("playback unavailable") else f"Playback unavailable: {reason}"
        self.status_label.setToolTip(full if reason else "Playback unavailable")
        # short in the bar (the window stays narrow), the whole reason in the tooltip
        self.status_label.setText(full if len(full) <= 60 else "Playback unavailable (hover for why)")
