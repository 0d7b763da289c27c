"""A job's sampling record is built once from the project's settings and reaches the logits filter unchanged."""

from __future__ import annotations

from jukestudio.engine import jobs, runner
from jukestudio.model import transformer
from jukestudio.project import Project, ProjectSettings
from tests.engine.tiny import TINY_HF


def test_a_jobs_record_reaches_the_logits_filter_unchanged(tmp_path, model, monkeypatch) -> None:
    settings = ProjectSettings(
        model=str(TINY_HF), artist="Zac Brown Band", genres=["Country"], total_length_s=0.9, take_length_s=0.05,
        n_takes=2, temperatures=[0.9, 0.8, 0.7], top_k=40, top_p=0.95, chunk_sizes=[8, 8, 8], max_batch=2,
    )  # fmt: skip
    project = Project.create(tmp_path / "song", settings)
    seen = []
    original = transformer.draw_tokens

    def spy(logits, params, level, generator=None):
        seen.append((params, level))
        return original(logits, params, level, generator)

    monkeypatch.setattr(transformer, "draw_tokens", spy)
    state = jobs.create_compose(project, model, levels=(0, 1), seed=12)
    runner.run_job(state.folder, model=model, project=project)
    records = {id(params) for params, _level in seen}
    assert len(records) == 1  # one object from job.json to the last token
    assert seen[0][0] == settings.sampling_params(12)
    assert {level for _params, level in seen} == {0, 1}
