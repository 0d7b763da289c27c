"""`bench/gpu_check.py --device cpu --quick`: the GPU check's own code on tiny sizes, so it cannot rot.

Its correctness sections must pass (dtype logits, determinism, kill/resume in subprocesses, the engine's
out-of-memory retry — simulated on CPU —, graph/static step = eager codes) and every figure the GPU run
reports must be present.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_cpu_run_passes_its_checks_and_reports_every_figure(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--device", "cpu", "--quick"]
    result = subprocess.run(
        [*cmd, "--bandwidth-gbs", "20", "--out", str(tmp_path)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert json.loads((tmp_path / "gpu_check.json").read_text()) == report
    sections = ("dtype", "determinism", "kill_resume", "oom_retry", "speed", "decode", "projection")
    for name in sections:
        assert "error" not in report[name], report[name]
    assert report["correctness"] == dict.fromkeys(
        ("dtype", "determinism", "kill_resume", "oom_retry", "graph_same_codes"), True
    )
    assert report["correctness_ok"] is True
    for key in ("1b_lyrics_top_fp16", "1b_lyrics_top_bf16", "upsampler_fp16", "upsampler_bf16"):
        assert 0 <= report["dtype"][key]["mean_kl_nats"] < 0.05
    assert report["kill_resume"]["killed"] and report["kill_resume"]["windows_done_at_kill"] > 0
    assert report["oom_retry"]["simulated"] and report["oom_retry"]["final_batch"] < 8
    for level in ("1b_lyrics_top", "5b_lyrics_top", "upsampler"):
        figures = report["speed"][level]
        assert figures["hf_fp32_tok_s_b1"] > 0 and figures["best_b1_vs_hf_fp32"] > 0
        for case in ("b1_eager", "b1_static", "b3_eager", "b3_static"):
            assert figures["cases"][case]["tokens_per_s"] > 0 and figures["cases"][case]["estimate_bytes"] > 0
        assert figures["cases"]["b3_static"]["same_codes_as_eager"] is True
        assert report["projection"]["roofline"][level]["fraction_of_roofline"] > 0
    assert report["decode"]["level0_rtf"] > 0 and report["decode"]["level0_finite"]
    for top in ("1b_lyrics", "5b_lyrics"):
        levels = report["projection"][top]["b1"]["levels"]
        assert [lv["level"] for lv in levels] == [0, 1, 2] and report["projection"][top]["b1"]["minutes"] > 0
        assert report["projection"][top]["b1"]["vs_roofline"] > 0
    assert "section" in result.stdout  # the table precedes the JSON line
