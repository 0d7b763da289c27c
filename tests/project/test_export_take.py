"""export_take: a take's preview, trimmed, to WAV with a sidecar carrying its parent chain."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from jukestudio.project import Project, ProjectError, ProjectSettings, Trim
from jukestudio.project.export import export_take


def test_export_uses_best_preview_trim_and_metadata(tmp_path) -> None:
    project = Project.create(tmp_path / "p", ProjectSettings(artist="Nick Drake", genres=["folk"], seed=9))
    root = project.add_take(seed=9)
    child = project.add_take(root.id, origin="continue", continued_from_s=0.5, seed=10)
    coarse = np.full(44100, 0.25, np.float32)
    full = (np.arange(44100) / 44100).astype(np.float32)
    project.write_preview(child.id, coarse, 0)
    project.write_codes(child.id, 2, torch.arange(5))
    project.write_preview(child.id, full, 2)
    project.set_trim(child.id, Trim(0.25, 0.5))

    report = export_take(project, child.id, tmp_path / "out" / "song.wav", subtype="FLOAT")
    audio, rate = sf.read(tmp_path / "out" / "song.wav", dtype="float32")
    np.testing.assert_array_equal(audio, full[11025:22050])
    assert rate == 44100 and report.frames == 11025
    side = json.loads((tmp_path / "out" / "song.json").read_text())
    assert side["exported_level"] == "full"
    assert side["trim_applied"] == {"start_s": 0.25, "end_s": 0.5}
    assert side["artist"] == "Nick Drake" and side["seeds"] == [9, 10]
    assert [p["id"] for p in side["parent_chain"]] == [root.id, child.id]
    assert side["audio_format"]["frames"] == 11025

    export_take(project, child.id, tmp_path / "coarse.wav", prior_level=0, use_trim=False)
    assert len(sf.read(tmp_path / "coarse.wav")[0]) == 44100


def test_export_without_audio_says_so(tmp_path) -> None:
    project = Project.create(tmp_path / "p")
    take = project.add_take(name="Draft")
    with pytest.raises(ProjectError, match="“Draft” has no decoded audio yet"):
        export_take(project, take.id, tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()
