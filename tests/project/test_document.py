"""Project round trip, take tree, codes and previews, undo/redo, errors for damaged or newer files."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
import torch

from jukestudio.project import (
    Project,
    ProjectCorruptError,
    ProjectError,
    ProjectNotFoundError,
    ProjectSettings,
    ProjectVersionError,
    TakeNotFoundError,
    Trim,
)
from jukestudio.project.autosave import Autosave


def settings() -> ProjectSettings:
    return ProjectSettings(
        model="1b_lyrics",
        artist="Ella Fitzgerald",
        genres=["jazz", "swing"],
        lyrics="Summertime\nand the livin' is easy",
        total_length_s=120.0,
        take_length_s=15.0,
        n_takes=4,
        temperatures=[0.97, 0.99, 0.995],
        top_k=10,
        top_p=0.9,
        seed=1234,
        chunk_sizes=[8, 16, 32],
        max_batch=2,
    )


@pytest.fixture
def project(tmp_path) -> Project:
    return Project.create(tmp_path / "song", settings())


def files_under(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_round_trip_settings_tree_codes_and_previews(project, tmp_path) -> None:
    root = project.add_take(seed=1, duration_s=15.0)
    child = project.add_take(root.id, origin="continue", continued_from_s=10.0, seed=2, duration_s=25.0)
    grandchild = project.add_take(child.id, origin="continue", continued_from_s=20.0, seed=3)
    codes = [torch.randint(0, 2048, (n,)) for n in (100, 400, 1600)]
    for level, c in enumerate(codes):
        project.write_codes(child.id, level, c, complete=level < 2)
    project.write_codes(root.id, 0, codes[0][:50])
    audio = np.random.default_rng(0).standard_normal(4410).astype(np.float32) * 1.5  # > 1 survives
    project.write_preview(child.id, audio, 0)
    project.write_preview(child.id, audio[::-1], 1)
    project.rate_take(child.id, 4)
    project.set_notes(child.id, "nice bridge")
    project.set_trim(child.id, Trim(1.0, 20.0))
    project.rename_take(grandchild.id, "Outro")
    project.save()

    again = Project.open(project.folder)
    assert again.settings == settings()
    assert again.problems == []
    assert set(again.takes) == {root.id, child.id, grandchild.id}
    loaded = again.take(child.id)
    assert loaded == project.take(child.id)
    assert (loaded.parent_id, loaded.continued_from_s, loaded.origin, loaded.seed) == (root.id, 10.0, "continue", 2)
    assert loaded.status == {"preview": "done", "middle": "done", "full": "partial"}
    assert (loaded.rating, loaded.notes, loaded.trim) == (4, "nice bridge", Trim(1.0, 20.0))
    assert loaded.settings == settings()
    for got, want in zip(again.read_codes(child.id), codes):
        assert got.dtype == torch.int64
        assert torch.equal(got, want)
    assert again.read_codes(root.id)[1:] == [None, None]
    assert again.read_codes(grandchild.id) == [None, None, None]
    np.testing.assert_array_equal(again.read_preview(child.id, 0), audio)
    np.testing.assert_array_equal(again.read_preview(child.id), audio[::-1])  # best level cached
    assert again.read_preview(root.id) is None
    assert [t.id for t in again.ancestors(grandchild.id)] == [root.id, child.id, grandchild.id]
    assert [(d, t.id) for d, t in again.walk()] == [(0, root.id), (1, child.id), (2, grandchild.id)]


def test_default_names_follow_the_tree(project) -> None:
    a = project.add_take()
    b = project.add_take()
    a1 = project.add_take(a.id)
    a2 = project.add_take(a.id)
    assert [a.name, b.name, a1.name, a2.name] == ["Take 1", "Take 2", "Take 1.1", "Take 1.2"]
    assert [t.id for t in project.children(a.id)] == [a1.id, a2.id]
    assert [t.id for t in project.roots()] == [a.id, b.id]
    project.delete_take(a.id)
    assert project.add_take().name == "Take 3"  # not a second "Take 2"


def test_engine_writes_are_on_disk_at_once(project) -> None:
    take = project.add_take()
    project.write_codes(take.id, 0, torch.tensor([1, 2, 3], dtype=torch.int32))
    project.update_take(take.id, duration_s=12.5)
    assert not project.dirty
    again = Project.open(project.folder)
    assert again.take(take.id).duration_s == 12.5
    assert again.take(take.id).status["preview"] == "done"
    assert torch.equal(again.read_codes(take.id)[0], torch.tensor([1, 2, 3]))


def test_a_take_write_killed_before_its_first_rename_is_no_dead_end(project) -> None:
    """A killed add_take leaves its folder holding only the temp file of take.json: adding the take
    again replaces it; a folder with anything else in it is still refused."""
    leftover = project.folder / "takes" / "t1"
    leftover.mkdir()
    (leftover / ".take.json.k2j_9x0a.tmp").write_text('{"half')
    reopened = Project.open(project.folder)
    assert any("t1" in p for p in reopened.problems)
    take = reopened.add_take(take_id="t1")
    assert [p.name for p in leftover.iterdir()] == ["take.json"]
    assert Project.open(project.folder).take("t1").name == take.name

    busy = project.folder / "takes" / "t2"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(ProjectError, match="exists already"):
        project.add_take(take_id="t2")
    assert (busy / "notes.txt").read_text() == "mine"


def test_bad_codes_are_refused(project) -> None:
    take = project.add_take()
    with pytest.raises(ValueError, match="1-D"):
        project.write_codes(take.id, 0, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        project.write_codes(take.id, 0, torch.zeros(3))
    with pytest.raises(ValueError, match="prior level"):
        project.write_codes(take.id, 3, torch.zeros(3, dtype=torch.long))
    with pytest.raises(TakeNotFoundError, match="no take 'nope'"):
        project.write_codes("nope", 0, torch.zeros(3, dtype=torch.long))
    assert project.take(take.id).status["preview"] == "empty"


def test_user_edits_wait_for_save_and_autosave(project) -> None:
    take = project.add_take()
    project.rate_take(take.id, 5)
    assert project.dirty
    assert Project.open(project.folder).take(take.id).rating == 0
    now = [0.0]
    autosave = Autosave(project, interval_s=30, clock=lambda: now[0])
    assert not autosave.tick()
    now[0] = 31.0
    assert autosave.tick()
    assert not project.dirty
    assert Project.open(project.folder).take(take.id).rating == 5
    now[0] = 100.0
    assert not autosave.tick()  # nothing to save


def test_undo_redo_of_each_action(project) -> None:
    take = project.add_take(name="A")
    project.rename_take(take.id, "Verse")
    project.rate_take(take.id, 3)
    project.set_notes(take.id, "good")
    project.set_trim(take.id, Trim(2.0))
    project.update_settings(artist="Nina Simone", n_takes=2)
    assert project.undo_stack.undo_label == "Change settings"
    assert project.undo() == "Change settings"
    assert project.settings.artist == "Ella Fitzgerald" and project.settings.n_takes == 4
    assert project.undo() == "Trim take" and project.take(take.id).trim is None
    assert project.undo() == "Edit notes" and project.take(take.id).notes == ""
    assert project.undo() == "Rate take" and project.take(take.id).rating == 0
    assert project.undo() == "Rename take to “Verse”" and project.take(take.id).name == "A"
    assert project.undo() is None and not project.can_undo
    for _ in range(5):
        project.redo()
    t = project.take(take.id)
    assert (t.name, t.rating, t.notes, t.trim) == ("Verse", 3, "good", Trim(2.0))
    assert project.settings.artist == "Nina Simone"
    assert project.redo() is None
    project.save()
    reopened = Project.open(project.folder)
    assert reopened.take(take.id) == t and reopened.settings.artist == "Nina Simone"


def test_undo_keeps_engine_updates_made_in_between(project) -> None:
    take = project.add_take(name="A")
    project.rename_take(take.id, "B")
    project.write_codes(take.id, 0, torch.arange(5))
    project.undo()
    assert project.take(take.id).name == "A"
    assert project.take(take.id).status["preview"] == "done"


def test_a_new_action_drops_the_redo_branch(project) -> None:
    take = project.add_take(name="A")
    project.rename_take(take.id, "B")
    project.undo()
    project.rate_take(take.id, 2)
    assert not project.can_redo
    assert project.take(take.id).name == "A"


def test_unchanged_values_make_no_undo_step(project) -> None:
    take = project.add_take(name="A")
    project.rename_take(take.id, "A")
    project.rate_take(take.id, 0)
    project.update_settings(artist="Ella Fitzgerald")
    assert not project.can_undo


def test_invalid_edits_are_refused(project) -> None:
    take = project.add_take()
    with pytest.raises(ValueError, match="rating"):
        project.rate_take(take.id, 6)
    with pytest.raises(ValueError, match="name"):
        project.rename_take(take.id, "  ")
    with pytest.raises(ValueError, match="top_p"):
        project.update_settings(top_p=2.0)
    with pytest.raises(ValueError, match="unknown settings"):
        project.update_settings(colour="red")
    with pytest.raises(ValueError, match="trim end"):
        Trim(5.0, 1.0)
    assert not project.can_undo


def test_delete_subtree_and_undo_restores_files(project) -> None:
    root = project.add_take()
    child = project.add_take(root.id)
    grandchild = project.add_take(child.id)
    other = project.add_take()
    for take in (root, child, grandchild):
        project.write_codes(take.id, 0, torch.arange(7))
        project.write_preview(take.id, np.ones(50, np.float32), 0)
    project.rate_take(grandchild.id, 5)  # unsaved edit at deletion time
    before = files_under(project.folder / "takes")

    deleted = project.delete_take(child.id)
    assert set(deleted) == {child.id, grandchild.id}
    assert set(project.takes) == {root.id, other.id}
    assert not project.take_dir(child.id).exists() and not project.take_dir(grandchild.id).exists()
    with pytest.raises(TakeNotFoundError):
        project.take(grandchild.id)
    assert project.undo_stack.undo_label.startswith("Delete “Take 1.1” and 1 more")
    assert set(Project.open(project.folder).takes) == {root.id, other.id}  # deletion is on disk

    project.undo()
    assert set(project.takes) == {root.id, child.id, grandchild.id, other.id}
    assert project.take(grandchild.id).rating == 5
    project.save()
    after = files_under(project.folder / "takes")
    assert set(after) == set(before)
    for name, data in before.items():
        if not name.endswith("take.json"):
            assert after[name] == data
    assert not (project.folder / "trash").exists() or not any((project.folder / "trash").iterdir())
    assert Project.open(project.folder).take(grandchild.id).rating == 5

    project.redo()
    assert set(project.takes) == {root.id, other.id}


def test_trash_is_emptied_when_deletion_becomes_final(project) -> None:
    take = project.add_take()
    project.write_codes(take.id, 0, torch.arange(3))
    project.delete_take(take.id)
    trash = project.folder / "trash"
    assert any(trash.rglob("codes_prior0.safetensors"))
    project.undo_stack.limit = 1
    other = project.add_take()
    project.rate_take(other.id, 1)  # pushes the deletion out of the history
    assert not any(trash.rglob("*.safetensors"))


def test_close_empties_the_trash_and_open_only_purges_old_leftovers(project) -> None:
    take = project.add_take()
    project.delete_take(take.id)
    assert (project.folder / "trash").exists()
    project.close()
    assert not (project.folder / "trash").exists()
    # A crashed session's leftovers: a recent one may belong to another open window, so it stays.
    recent = project.folder / "trash" / "recent" / "t1"
    old = project.folder / "trash" / "old" / "t2"
    recent.mkdir(parents=True)
    old.mkdir(parents=True)
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(old.parent, (week_ago, week_ago))
    Project.open(project.folder)
    assert recent.exists() and not old.parent.exists()


def test_opening_a_second_time_does_not_break_undo_of_the_first(project) -> None:
    take = project.add_take()
    project.write_codes(take.id, 0, torch.arange(3))
    project.delete_take(take.id)
    Project.open(project.folder)
    project.undo()
    assert torch.equal(project.read_codes(take.id)[0], torch.arange(3))


def test_create_refuses_existing_project_or_busy_folder(project, tmp_path) -> None:
    with pytest.raises(ProjectError, match="project here already"):
        Project.create(project.folder)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(ProjectError, match="new or empty folder"):
        Project.create(busy)


def test_open_missing(tmp_path) -> None:
    with pytest.raises(ProjectNotFoundError, match="no such folder"):
        Project.open(tmp_path / "nope")
    with pytest.raises(ProjectNotFoundError, match="not a jukestudio project"):
        Project.open(tmp_path)


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (b'{"schema_version": 1, "settings": {', ProjectCorruptError, r"damaged .*line 1 column .*left untouched"),
        (b"", ProjectCorruptError, r"damaged \(empty"),
        (b"\xff\xfe\x00garbage", ProjectCorruptError, "damaged"),
        (b'["a list"]', ProjectCorruptError, "no schema_version"),
        (b'{"settings": {}}', ProjectCorruptError, "no schema_version"),
        (b'{"schema_version": 99, "settings": {}}', ProjectVersionError, r"newer jukestudio \(project schema 99"),
        (b'{"schema_version": "one"}', ProjectVersionError, "unknown project schema 'one'"),
        (b'{"schema_version": 1, "settings": {"n_takes": "many"}}', ProjectCorruptError, "n_takes"),
    ],
)
def test_damaged_or_newer_project_file_is_reported_and_kept(project, content, error, message) -> None:
    take = project.add_take()
    path = project.folder / "project.json"
    path.write_bytes(content)
    before = files_under(project.folder)
    with pytest.raises(error, match=message):
        Project.open(project.folder)
    assert files_under(project.folder) == before
    assert take.id in before_ids(before)


def before_ids(files: dict[str, bytes]) -> set[str]:
    return {name.split(os.sep)[1] for name in files if name.startswith("takes")}


def test_damaged_take_file_skips_only_that_take(project) -> None:
    good = project.add_take()
    bad = project.add_take()
    bad_file = project.take_dir(bad.id) / "take.json"
    bad_file.write_text('{"id": "' + bad.id + '", "rating": 9}')
    (project.folder / "takes" / "half").mkdir()
    again = Project.open(project.folder)
    assert set(again.takes) == {good.id}
    assert any("rating must be 0..5" in p for p in again.problems)
    assert any("without take.json" in p for p in again.problems)
    again.rate_take(good.id, 3)
    again.save()
    assert bad_file.read_text() == '{"id": "' + bad.id + '", "rating": 9}'


def test_newer_take_file_is_skipped_and_kept(project) -> None:
    take = project.add_take()
    path = project.take_dir(take.id) / "take.json"
    data = json.loads(path.read_text())
    data["schema_version"] = 7
    path.write_text(json.dumps(data))
    content = path.read_bytes()
    again = Project.open(project.folder)
    assert take.id not in again.takes
    assert any("newer jukestudio (take schema 7)" in p for p in again.problems)
    again.update_settings(artist="someone")
    again.save()
    assert path.read_bytes() == content


def test_preview_without_level_goes_to_the_best_finished_level(project) -> None:
    take = project.add_take()
    project.write_preview(take.id, np.zeros(10, np.float32))
    assert project.preview_levels(take.id) == [0]
    project.write_codes(take.id, 1, torch.arange(4))
    project.write_preview(take.id, np.ones(10, np.float32))
    assert project.preview_levels(take.id) == [0, 1]
    np.testing.assert_array_equal(project.read_preview(take.id), np.ones(10, np.float32))


def test_take_ids_cannot_escape_the_folder(project) -> None:
    with pytest.raises(ValueError, match="invalid take id"):
        project.take_dir("../outside")
    take = project.add_take()
    path = project.take_dir(take.id) / "take.json"
    data = json.loads(path.read_text())
    data["parent_id"] = "../../etc"
    path.write_text(json.dumps(data))
    again = Project.open(project.folder)
    assert take.id not in again.takes and any("invalid take id" in p for p in again.problems)


def test_orphans_show_as_roots_and_cycles_do_not_hang(project) -> None:
    a = project.add_take()
    b = project.add_take(a.id)
    for take_id, parent in ((a.id, b.id),):  # make a cycle a → b → a on disk
        path = project.take_dir(take_id) / "take.json"
        data = json.loads(path.read_text())
        data["parent_id"] = parent
        path.write_text(json.dumps(data))
    again = Project.open(project.folder)
    assert any("loops" in p for p in again.problems)
    assert [t.id for _, t in again.walk()] in ([a.id, b.id], [b.id, a.id])
    chain = [t.id for t in again.ancestors(b.id)]
    assert chain[-1] == b.id and len(chain) == len(set(chain))
    orphan = project.add_take()
    path = project.take_dir(orphan.id) / "take.json"
    data = json.loads(path.read_text())
    data["parent_id"] = "gone"
    path.write_text(json.dumps(data))
    assert orphan.id in [t.id for t in Project.open(project.folder).roots()]


def test_listeners_hear_changes(project) -> None:
    heard: list[tuple[str, tuple[str, ...]]] = []
    project.listeners.append(lambda event, ids: heard.append((event, ids)))
    take = project.add_take()
    project.rate_take(take.id, 2)
    project.delete_take(take.id)
    project.undo()
    assert [e for e, _ in heard] == ["take_added", "take_changed", "takes_removed", "takes_restored"]
    assert all(ids == (take.id,) for _, ids in heard)


def test_export_metadata_has_the_parent_chain(project) -> None:
    root = project.add_take(seed=11)
    child = project.add_take(root.id, origin="continue", continued_from_s=12.0, seed=22)
    project.write_codes(child.id, 0, torch.arange(4))
    meta = project.export_metadata(child.id)
    assert meta["model"] == "1b_lyrics" and meta["artist"] == "Ella Fitzgerald"
    assert meta["genres"] == ["jazz", "swing"] and meta["lyrics"].startswith("Summertime")
    assert meta["seeds"] == [11, 22]
    assert meta["temperatures"] == [0.97, 0.99, 0.995]
    assert [p["id"] for p in meta["parent_chain"]] == [root.id, child.id]
    assert meta["parent_chain"][1]["continued_from_s"] == 12.0
    assert meta["levels"] == {"preview": "done", "middle": "empty", "full": "empty"}
    json.dumps(meta, allow_nan=False)


def test_engine_thread_and_user_edits_at_once(project) -> None:
    import threading

    first = project.add_take()
    errors: list[BaseException] = []

    def engine() -> None:
        try:
            for i in range(30):
                take = project.add_take(first.id, origin="continue", continued_from_s=float(i))
                project.write_codes(take.id, 0, torch.arange(i + 1))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    worker = threading.Thread(target=engine)
    worker.start()
    for i in range(30):
        project.rate_take(first.id, i % 6)
        project.rename_take(first.id, f"Verse {i}")
        if i % 3 == 0:
            project.undo()
        project.save()
    worker.join()
    assert not errors
    project.save()
    again = Project.open(project.folder)
    assert len(again) == 31 and again.problems == []
    assert again.take(first.id) == project.take(first.id)
    for take in again.children(first.id):
        assert again.read_codes(take.id)[0].numel() == int(take.continued_from_s) + 1


def test_autosave_failure_is_kept_and_retried(project, monkeypatch) -> None:
    take = project.add_take()
    project.rate_take(take.id, 3)
    now = [100.0]
    autosave = Autosave(project, interval_s=1, clock=lambda: now[0])

    def full_disk() -> bool:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project, "save", full_disk)
    now[0] = 102.0
    assert not autosave.tick()
    assert isinstance(autosave.last_error, OSError) and project.dirty
    monkeypatch.undo()
    now[0] = 200.0
    assert autosave.tick() and autosave.last_error is None and not project.dirty


def test_failed_delete_changes_nothing(project, monkeypatch) -> None:
    root = project.add_take()
    child = project.add_take(root.id)
    project.write_codes(child.id, 0, torch.arange(3))
    real_replace = os.replace

    def refuse_second(src, dst):
        if str(src).endswith(child.id) and "trash" in str(dst):
            raise PermissionError(13, "file in use", str(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", refuse_second)
    with pytest.raises(PermissionError):
        project.delete_take(root.id)
    assert set(project.takes) == {root.id, child.id} and not project.can_undo
    assert project.take_dir(root.id).exists() and project.take_dir(child.id).exists()
    assert not (project.folder / "trash").exists() or not any((project.folder / "trash").iterdir())


def test_take_copy_accepts_changes_to_its_dict_fields() -> None:
    from jukestudio.project.takes import Take

    take = Take(id="t1", extra={"batch_index": 0})
    changed = take.copy(extra={"words": [1]}, status={"coarse": "done"}, name="renamed")
    assert changed.extra == {"words": [1]} and changed.status == {"coarse": "done"}
    assert changed.name == "renamed"
    assert take.extra == {"batch_index": 0}  # the original is untouched
    assert take.copy().extra is not take.extra  # dict fields are never shared
