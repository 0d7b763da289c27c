"""The waveform view: min/max peaks of a take, playhead, click to seek, region, level markers, lyrics.

Peaks come from a *peak source* — ``fn(start_s, end_s, n_bins) -> (mins, maxs)`` — so a take of any
length draws at any zoom from the audio layer's peak pyramid without touching the samples. Each
bin is drawn as a vertical min→max stroke (interleaved points), so transients survive.

Mouse: click = seek, drag = select a region, double-click = clear it, wheel = zoom time,
right/middle drag = scroll. The y axis is fixed (-1..1, lyrics below).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from jukestudio.audio.peaks import PeakPyramid
from jukestudio.gui.wording import QUALITY, QUALITY_DETAIL

PeakSource = Callable[[float, float, int], tuple[np.ndarray, np.ndarray]]

WAVE_COLOR = "#5aa9e6"
PLAYHEAD_COLOR = "#ff5964"
LEVEL_COLORS = {0: "#ffe066", 1: "#7bd389", 2: "#c49bff"}  # prior order: 0 = top
SPAN_TOP = 1.28  # shaded level strips sit above the waveform (y 1.05 … 1.28), one lane per level
SPAN_HEIGHT = 0.065
LYRIC_Y = -1.3
LANE_STEP = 0.2
WORD_LANES = 2
WORD_GAP_PX = 6.0
WORD_COLOR = QColor("#9aa5b1")
CURRENT_WORD_COLOR = QColor("#ffffff")


def peaks_from_array(audio: np.ndarray, sample_rate: int) -> tuple[PeakSource, float]:
    """A peak source over an in-memory mono array (prompts, tests); the audio layer's pyramid is faster."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    duration = len(audio) / float(sample_rate)

    def source(start_s: float, end_s: float, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
        lo = max(0, int(start_s * sample_rate))
        hi = min(len(audio), max(lo + 1, int(end_s * sample_rate)))
        chunk = audio[lo:hi]
        if len(chunk) == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        n_bins = max(1, min(n_bins, len(chunk)))
        edges = np.linspace(0, len(chunk), n_bins + 1).astype(np.int64)
        mins = np.minimum.reduceat(chunk, edges[:-1])
        maxs = np.maximum.reduceat(chunk, edges[:-1])
        return mins, maxs

    return source, duration


def peaks_from_pyramid(pyramid: PeakPyramid, sample_rate: int) -> tuple[PeakSource, float]:
    """A peak source over the audio layer's peak pyramid: any zoom of any length reads about
    ``n_bins × levels`` values instead of every sample in view."""

    def source(start_s: float, end_s: float, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
        lo = max(0, int(start_s * sample_rate))
        hi = min(len(pyramid), max(lo + 1, int(end_s * sample_rate)))
        if hi <= lo:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        return pyramid.range(lo, hi, max(1, min(n_bins, hi - lo)))

    return source, len(pyramid) / float(sample_rate)


def with_peaks(audio: np.ndarray) -> tuple[np.ndarray, PeakPyramid]:
    """Audio with its peak pyramid (build it off the GUI thread: ~0.15 s for three minutes)."""
    audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
    return audio, PeakPyramid(audio)


class _WaveViewBox(pg.ViewBox):
    """Left drag selects a time region instead of panning; click seeks."""

    def __init__(self, view: WaveformView) -> None:
        super().__init__(enableMenu=False)
        self._view = view
        self.setMouseEnabled(x=True, y=False)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            if ev.double():
                self._view.clear_region()
            else:
                self._view.seek_requested.emit(max(0.0, float(self.mapSceneToView(ev.scenePos()).x())))
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        start = float(self.mapSceneToView(ev.buttonDownScenePos()).x())
        now = float(self.mapSceneToView(ev.scenePos()).x())
        self._view.set_region(min(start, now), max(start, now), emit=ev.isFinish())


class WaveformView(pg.PlotWidget):
    """Peaks of one take with playhead, selection, per-level progress markers and lyric words."""

    seek_requested = Signal(float)  # seconds
    region_changed = Signal(object)  # (start_s, end_s) or None
    content_changed = Signal()  # a take (or nothing) is now on show

    def __init__(self, parent=None) -> None:
        self._box = _WaveViewBox(self)
        super().__init__(parent, viewBox=self._box, background="#1e2127")
        self.setAcceptDrops(False)  # drops go to the main window
        item = self.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.showGrid(x=True, y=False, alpha=0.15)
        item.getAxis("left").hide()
        item.setLabel("bottom", "time", units="s")
        self._box.setYRange(LYRIC_Y - 0.25, SPAN_TOP + 0.02, padding=0)
        self._curve = pg.PlotDataItem(pen=pg.mkPen(WAVE_COLOR, width=1), connect="pairs")
        self._curve.setZValue(1)
        self.addItem(self._curve)
        self._playhead = pg.InfiniteLine(pos=0.0, angle=90, movable=False, pen=pg.mkPen(PLAYHEAD_COLOR, width=2))
        self._playhead.setZValue(10)
        self.addItem(self._playhead)
        self._region = pg.LinearRegionItem(values=(0, 0), movable=True, brush=pg.mkBrush(255, 255, 255, 40))
        self._region.setZValue(5)
        self._region.hide()
        self._region.sigRegionChangeFinished.connect(self._region_moved)
        self.addItem(self._region)
        self._markers: dict[int, pg.InfiniteLine] = {}
        self._spans: dict[int, list[tuple[float, float]]] = {}
        self._span_items: list[QGraphicsRectItem] = []
        self._words: list[tuple[float, float, str]] = []
        self._starts: list[float] = []
        self._word_items: list[pg.TextItem] = []
        self._current_word = -1
        self._source: PeakSource | None = None
        self._duration = 0.0
        self._available = 0.0
        self._box.sigXRangeChanged.connect(self._refresh_peaks)
        self._box.sigXRangeChanged.connect(self._layout_words)
        self._box.sigResized.connect(self._layout_words)
        self._box.sigResized.connect(self._refresh_peaks)  # as many bins as pixels after a resize
        self._word_widths: list[float] = []

    # -- content ------------------------------------------------------------------------------
    @property
    def duration(self) -> float:
        return self._duration

    def set_peak_source(self, source: PeakSource | None, duration: float, available: float | None = None) -> None:
        """Show a take of ``duration`` seconds; a take still being composed has audio only up to
        ``available`` seconds (the rest of the axis stays empty until ``grow`` fills it)."""
        self._source, self._duration = source, max(0.0, float(duration))
        self._available = self._duration if available is None else max(0.0, float(available))
        limit = max(self._duration, 0.01)
        self._box.setLimits(xMin=-0.02 * limit, xMax=limit * 1.02, minXRange=min(0.01, limit))
        self._box.setXRange(0.0, limit, padding=0.01)
        self._refresh_peaks()
        self.content_changed.emit()

    def set_audio(self, audio: np.ndarray, sample_rate: int, pyramid: PeakPyramid | None = None) -> None:
        """Show ``audio``; pass its ``pyramid`` when it was built in the background (see ``with_peaks``)."""
        if pyramid is None:
            _, pyramid = with_peaks(audio)
        self.set_peak_source(*peaks_from_pyramid(pyramid, sample_rate))

    def clear_take(self) -> None:
        """Show nothing (PlotWidget.clear would remove the playhead and region items for good)."""
        self.set_peak_source(None, 0.0)
        self.set_alignment([])
        self.set_level_progress({})
        self.set_level_spans({})
        self.clear_region()
        self.set_playhead(0.0)

    def grow(self, source: PeakSource, available: float) -> None:
        """More of a growing take is decoded: draw up to ``available`` seconds, keeping the zoom."""
        self._source, self._available = source, max(0.0, float(available))
        self._refresh_peaks()

    @property
    def available(self) -> float:
        """Seconds of audio drawn (less than ``duration`` while a take grows)."""
        return self._available

    def curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn (x, y) points: each bin is a (t, min), (t, max) pair."""
        x, y = self._curve.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (x, y)

    def _refresh_peaks(self, *_: object) -> None:
        if self._source is None or self._duration <= 0:
            self._curve.setData([], [])
            return
        (x0, x1), _ = self._box.viewRange()
        x0, x1 = max(0.0, x0), min(self._duration, self._available, x1)
        if x1 <= x0:
            self._curve.setData([], [])
            return
        n_bins = max(16, int(self._box.width() or 800))
        mins, maxs = self._source(x0, x1, n_bins)
        n = len(mins)
        if n == 0:
            self._curve.setData([], [])
            return
        t = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
        xs = np.repeat(t, 2)
        ys = np.empty(2 * n, dtype=np.float32)
        ys[0::2], ys[1::2] = mins, maxs
        self._curve.setData(xs, ys)

    # -- playhead and region ------------------------------------------------------------------
    def set_playhead(self, seconds: float) -> None:
        self._playhead.setValue(float(seconds))
        self._highlight_word_at(float(seconds))

    @property
    def playhead(self) -> float:
        return float(self._playhead.value())

    def set_region(self, start: float, end: float, emit: bool = True) -> None:
        start, end = max(0.0, start), min(max(self._duration, 0.0), end) if self._duration else end
        if end - start <= 1e-3:
            self.clear_region()
            return
        self._region.blockSignals(True)
        self._region.setRegion((start, end))
        self._region.blockSignals(False)
        self._region.show()
        if emit:
            self.region_changed.emit((start, end))

    def clear_region(self) -> None:
        was_visible = self._region.isVisible()
        self._region.hide()
        if was_visible:
            self.region_changed.emit(None)

    def region(self) -> tuple[float, float] | None:
        if not self._region.isVisible():
            return None
        start, end = self._region.getRegion()
        return float(start), float(end)

    def _region_moved(self) -> None:
        if self._region.isVisible():
            self.region_changed.emit(self.region())

    # -- level markers ------------------------------------------------------------------------
    def set_level_progress(self, seconds_by_level: dict[int, float]) -> None:
        """Mark how far each level (prior order) has been sampled; levels not given are removed."""
        for level in list(self._markers):
            if level not in seconds_by_level:
                self.removeItem(self._markers.pop(level))
        for level, seconds in seconds_by_level.items():
            line = self._markers.get(level)
            if line is None:
                color = LEVEL_COLORS.get(level, "#cccccc")
                line = pg.InfiniteLine(
                    angle=90,
                    movable=False,
                    pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine),
                    label=QUALITY.get(level, f"level {level}"),
                    labelOpts={"position": 0.95 - 0.07 * level, "color": color},
                )
                line.setZValue(4)
                self.addItem(line)
                self._markers[level] = line
            line.setValue(float(seconds))

    def level_progress(self) -> dict[int, float]:
        return {level: float(line.value()) for level, line in self._markers.items()}

    def set_level_spans(self, spans: dict[int, Sequence[tuple[float, float]]]) -> None:
        """Shade where each level (prior order) is finished: a strip per level above the waveform,
        over the part it covers (the whole take, or an upsampled region)."""
        for item in self._span_items:
            self.removeItem(item)
        self._span_items = []
        self._spans = {int(level): [(float(a), float(b)) for a, b in ranges] for level, ranges in spans.items()}
        for level, ranges in self._spans.items():
            color = QColor(LEVEL_COLORS.get(level, "#cccccc"))
            fill = QColor(color)
            fill.setAlpha(150)
            y = SPAN_TOP - (level + 1) * SPAN_HEIGHT
            for start, end in ranges:
                rect = QGraphicsRectItem(QRectF(start, y, max(end - start, 1e-6), SPAN_HEIGHT * 0.8))
                rect.setBrush(QBrush(fill))
                rect.setPen(QPen(Qt.PenStyle.NoPen))
                rect.setToolTip(f"{QUALITY_DETAIL.get(level, '')}: {start:.1f}–{end:.1f} s")
                rect.setZValue(3)
                self.addItem(rect)
                self._span_items.append(rect)

    def level_spans(self) -> dict[int, list[tuple[float, float]]]:
        return {level: list(ranges) for level, ranges in self._spans.items()}

    # -- lyric alignment ----------------------------------------------------------------------
    def set_alignment(self, words: Sequence[tuple[float, float, str]]) -> None:
        """Lay lyric words along the time axis: ``[(start_s, end_s, word), ...]`` sorted by start."""
        for item in self._word_items:
            self.removeItem(item)
        self._words = sorted((float(s), float(e), str(w)) for s, e, w in words)
        self._starts = [w[0] for w in self._words]
        self._word_items = []
        for _start, _end, word in self._words:
            text = pg.TextItem(word, color=WORD_COLOR, anchor=(0, 0.5))
            text.hide()
            self.addItem(text)
            self._word_items.append(text)
        self._word_widths = [
            QFontMetricsF(item.textItem.font()).horizontalAdvance(word) + WORD_GAP_PX
            for item, (_s, _e, word) in zip(self._word_items, self._words, strict=True)
        ]
        self._current_word = -1
        self._layout_words()
        self._highlight_word_at(self.playhead)

    def _layout_words(self, *_: object) -> None:
        """Place each visible word in the first of the lanes where it does not touch the previous one;
        a word that fits in no lane is hidden (zoom in to see it)."""
        if not self._word_items:
            return
        (x0, x1), _ = self._box.viewRange()
        width = max(1.0, float(self._box.width() or 1.0))
        px_per_s = width / max(x1 - x0, 1e-9)
        lane_end = [-float("inf")] * WORD_LANES
        for item, (start, _end, _word), w in zip(self._word_items, self._words, self._word_widths, strict=True):
            left = (start - x0) * px_per_s
            if left < -w or start > x1:
                item.hide()
                continue
            lane = next((k for k in range(WORD_LANES) if left >= lane_end[k]), None)
            if lane is None:
                item.hide()
                continue
            lane_end[lane] = left + w
            item.setPos(QPointF(start, LYRIC_Y + LANE_STEP * lane))
            item.show()

    def shown_words(self) -> list[str]:
        return [w for item, (_s, _e, w) in zip(self._word_items, self._words, strict=True) if item.isVisible()]

    def word_rects(self) -> list[QRectF]:
        """Scene rectangles of the words on show (for tests: they never overlap)."""
        rects = []
        for item, (_s, _e, word) in zip(self._word_items, self._words, strict=True):
            if item.isVisible():
                at = self._box.mapViewToScene(item.pos())
                metrics = QFontMetricsF(item.textItem.font())
                h = metrics.height()
                rects.append(QRectF(at.x(), at.y() - h / 2, metrics.horizontalAdvance(word), h))
        return rects

    def current_word(self) -> str | None:
        return self._words[self._current_word][2] if 0 <= self._current_word < len(self._words) else None

    def _highlight_word_at(self, seconds: float) -> None:
        if not self._words:
            return
        index = bisect.bisect_right(self._starts, seconds) - 1
        if index >= 0 and seconds > self._words[index][1]:
            index = -1  # in a gap between words
        if index == self._current_word:
            return
        if 0 <= self._current_word < len(self._word_items):
            self._word_items[self._current_word].setColor(WORD_COLOR)
        if index >= 0:
            self._word_items[index].setColor(CURRENT_WORD_COLOR)
        self._current_word = index
