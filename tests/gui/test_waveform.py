"""WaveformView: peaks drawn as min/max strokes, click to seek, drag a region, markers, lyric words."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from jukestudio.gui.widgets.waveform import WaveformView, peaks_from_array

SR = 1000


@pytest.fixture
def view(qtbot):
    w = WaveformView()
    w.resize(800, 300)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def _widget_point(view: WaveformView, seconds: float) -> QPoint:
    scene = view.getPlotItem().vb.mapViewToScene(QPointF(seconds, 0.0))
    return view.mapFromScene(scene)


def test_peaks_from_array_matches_brute_force_min_max():
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(10_000).astype(np.float32)
    source, duration = peaks_from_array(audio, SR)
    assert duration == 10.0
    mins, maxs = source(2.0, 4.0, 10)
    chunks = np.array_split(audio[2000:4000], 10)
    assert np.allclose(mins, [c.min() for c in chunks]) and np.allclose(maxs, [c.max() for c in chunks])


def test_draws_one_min_max_stroke_per_bin_and_keeps_transients(view):
    audio = np.zeros(5 * SR, np.float32)
    audio[2500] = 0.9  # a single-sample click must survive any zoom
    view.set_audio(audio, SR)
    x, y = view.curve_data()
    assert len(x) % 2 == 0 and len(x) >= 32
    assert np.isclose(y.max(), 0.9) and np.isclose(y.min(), 0.0)
    assert view.duration == 5.0


def test_click_seeks_and_drag_selects_a_region_double_click_clears(view, qtbot):
    view.set_audio(np.zeros(10 * SR, np.float32), SR)
    with qtbot.waitSignal(view.seek_requested, timeout=2000) as seek:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=_widget_point(view, 4.0))
    assert seek.args[0] == pytest.approx(4.0, abs=0.1)

    with qtbot.waitSignal(view.region_changed, timeout=2000) as region:
        view.set_region(2.0, 6.5)
    assert region.args[0] == (2.0, 6.5) and view.region() == (2.0, 6.5)
    with qtbot.waitSignal(view.region_changed, timeout=2000) as cleared:
        view.clear_region()
    assert cleared.args[0] is None and view.region() is None


def test_mouse_drag_makes_a_region(view, qtbot):
    from PySide6.QtTest import QTest

    view.set_audio(np.zeros(10 * SR, np.float32), SR)
    start, end = _widget_point(view, 2.0), _widget_point(view, 7.0)
    vp = view.viewport()
    with qtbot.waitSignal(view.region_changed, timeout=2000) as blocker:
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        for i in range(1, 11):
            QTest.mouseMove(vp, start + (end - start) * i / 10)
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    lo, hi = blocker.args[0]
    assert lo == pytest.approx(2.0, abs=0.2) and hi == pytest.approx(7.0, abs=0.2)


def test_level_markers_and_lyric_highlight_follow_the_playhead(view):
    view.set_audio(np.zeros(10 * SR, np.float32), SR)
    view.set_level_progress({0: 8.0, 1: 3.0})
    assert view.level_progress() == {0: 8.0, 1: 3.0}
    view.set_level_progress({0: 10.0})
    assert view.level_progress() == {0: 10.0}

    view.set_alignment([(0.5, 1.0, "hello"), (1.2, 2.0, "world")])
    view.set_playhead(0.7)
    assert view.current_word() == "hello"
    view.set_playhead(1.1)
    assert view.current_word() is None
    view.set_playhead(1.5)
    assert view.current_word() == "world" and view.playhead == 1.5


def test_clear_take_keeps_the_playhead_and_region_items(view):
    """PlotWidget.clear() would remove every item for good; clear_take only empties the view."""
    view.set_audio(np.ones(SR, np.float32) * 0.5, SR)
    view.set_region(0.2, 0.4)
    view.clear_take()
    assert view.region() is None and view.duration == 0.0 and len(view.curve_data()[0]) == 0
    view.set_audio(np.ones(SR, np.float32) * 0.5, SR)
    view.set_region(0.2, 0.4)
    view.set_playhead(0.3)
    items = view.getPlotItem().vb.addedItems
    assert view._curve in items and view._playhead in items and view._region in items
    assert len(view.curve_data()[0]) > 0 and view.region() == (0.2, 0.4)


def test_words_from_alignment_read_the_lyrics_in_order():
    from jukestudio.engine.finish import words_from_alignment

    lyrics = "la  di da"
    positions = (0, 1, 4, 5, 7, 8)  # lyric id → index in the typed text (the spaces were dropped here)
    attended = [0, 1, 0, 2, 3, 1, 4, 5, 5]  # token → most attended lyric id; the 1 at t=5 looks back
    alignment = np.eye(6)[attended]
    words = words_from_alignment(alignment, lyrics, positions, seconds_per_token=0.5)
    assert words == [[0.0, 1.5, "la"], [1.5, 3.0, "di"], [3.0, 4.5, "da"]]


def test_lyric_words_never_overlap_and_zooming_in_shows_more(qtbot):
    import itertools

    view = WaveformView()
    qtbot.addWidget(view)
    view.resize(600, 300)
    view.show()
    qtbot.waitExposed(view)
    words = [(0.1 * i, 0.1 * i + 0.09, f"word{i}") for i in range(200)]  # 10 words a second over 20 s
    view.set_audio(np.zeros(20 * SR, np.float32), SR)
    view.set_alignment(words)

    def no_overlap() -> None:
        rects = view.word_rects()
        for a, b in itertools.combinations(rects, 2):
            assert not a.intersected(b).isValid() or a.intersected(b).width() < 0.5, (a, b)

    no_overlap()
    far = len(view.shown_words())
    assert 0 < far < 200  # some words dropped at this zoom
    view.getPlotItem().vb.setXRange(2.0, 4.0, padding=0)
    qtbot.wait(10)
    no_overlap()
    near = view.shown_words()
    assert "word25" in near and len(near) >= 15  # zoomed in, every word of the span fits
    view.resize(300, 300)  # narrower: re-laid out
    qtbot.wait(20)
    no_overlap()


def test_peaks_come_from_the_pyramid_and_refresh_to_the_width_after_a_resize(qtbot, monkeypatch):
    from jukestudio.audio.peaks import PeakPyramid

    calls = []
    real_range = PeakPyramid.range
    monkeypatch.setattr(PeakPyramid, "range", lambda self, a, b, n: calls.append(n) or real_range(self, a, b, n))
    view = WaveformView()
    qtbot.addWidget(view)
    view.resize(400, 200)
    view.show()
    qtbot.waitExposed(view)
    audio = np.sin(np.linspace(0, 300, 30 * SR)).astype(np.float32)
    view.set_audio(audio, SR)
    assert calls, "the waveform reads its peaks from the pyramid"
    narrow = len(view.curve_data()[0]) // 2
    view.resize(1600, 200)  # wider: one stroke per pixel again, no comb of gaps
    qtbot.waitUntil(lambda: len(view.curve_data()[0]) // 2 > narrow * 2, timeout=2000)
    bins = len(view.curve_data()[0]) // 2
    assert bins >= view.getPlotItem().vb.width() - 1
