"""Id tables read like the original, v2 normalisation, lyric vocabularies and picker search.

Oracles: the Hugging Face tokenizer files of the tiny fixtures (``artists.json`` / ``genres.json`` were
built by the reference harness from the same tables with the original's parsing; v2 keys carry a
``.v2`` suffix, ``lyrics.json`` is the v3 lyric vocabulary), and transformers 4.40.2 where marked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jukestudio.model import vocab
from tests.conftest import ORIG_TINY

HF_DIR = ORIG_TINY / "tiny" / "hf_model"


def _hf_tables(file_name: str) -> dict[str, dict[str, int]]:
    entries = json.loads((HF_DIR / file_name).read_text(encoding="utf-8"))
    return {
        "v2": {k[: -len(".v2")]: v for k, v in entries.items() if k.endswith(".v2")},
        "v3": {k: v for k, v in entries.items() if not k.endswith(".v2")},
    }


@pytest.mark.parametrize("kind", ["artist", "genre"])
@pytest.mark.parametrize("version", ["v2", "v3"])
def test_tables_equal_the_reference_harness_tables(kind: str, version: str) -> None:
    expected = _hf_tables(f"{kind}s.json")[version]
    table = vocab.artist_table(version) if kind == "artist" else vocab.genre_table(version)
    assert dict(table.ids) == expected
    assert table.size == max(expected.values()) + 1


def test_table_quirks_from_the_vocab_readme() -> None:
    v3_artists, v3_genres = vocab.artist_table("v3"), vocab.genre_table("v3")
    hf_v3_artists = _hf_tables("artists.json")["v3"]
    # "speaker" is listed twice (3675, then 7896): the later line wins.
    assert v3_artists.get("speaker") == hf_v3_artists["speaker"] == 7896
    assert 3675 not in v3_artists.ids.values()
    # Invisible marks are part of v3 names: two different genres.
    assert v3_genres.get("jazz") == 230 and v3_genres.get("jazz\u200e") == 547
    # Spaces inside a name survive line.strip() (they sit before the ';').
    assert v3_artists.get("gabriel faur ") == 2262 and v3_artists.get("gabriel faur") is None
    assert v3_genres.get('s music", ') == 220
    # Several v2 names share id 0.
    v2_artists = vocab.artist_table("v2")
    assert v2_artists.get("unknown") == v2_artists.get("various") == v2_artists.get("") == 0
    assert vocab.artist_table("v2") is v2_artists  # cached per process


def test_norm_follows_the_original() -> None:
    assert vocab.norm("Céline Dion") == "c_line_dion"
    assert vocab.norm("R.E.M.") == "r_e_m"
    assert vocab.norm("  Blues -- Rock ") == "blues_rock"
    assert vocab.normalise("Céline Dion", "v3") == "céline dion"
    assert vocab.genre_keys(["Country Rock", "R&B"], "v2") == ["country", "rock", "r", "b"]
    assert vocab.genre_keys(["Country Rock"], "v3") == ["country rock"]
    with pytest.raises(vocab.VocabError, match="v4"):
        vocab.normalise("x", "v4")


@pytest.fixture(scope="module")
def hf_normalize():
    transformers = pytest.importorskip("transformers")
    return transformers.JukeboxTokenizer.from_pretrained(HF_DIR)._normalize


@pytest.mark.reference
@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_norm_equals_hf_normalize_except_for_dots(hf_normalize, text: str) -> None:
    # HF's _normalize is the original norm() except that it keeps '.' (documented HF deviation 4).
    assert vocab.norm(text.replace(".", " ")) == hf_normalize(text.replace(".", " "))


def test_lyric_vocabularies() -> None:
    v3 = json.loads((HF_DIR / "lyrics.json").read_text(encoding="utf-8"))
    assert {**vocab.lyric_vocab("v3"), "<unk>": 0} == v3
    assert vocab.lyric_vocab_size("v3") == 79 and vocab.lyric_vocab_size("v2") == 80
    # v2 = v3 plus '+' after '-' (text_processor.py: "...?-+'..."), so the ids after it shift by one.
    v2 = vocab.lyric_vocab("v2")
    assert v2["+"] == 70 and v2["-"] == v3["-"] == 69 and v2["'"] == v3["'"] + 1 and v2["\n"] == 79
    assert vocab.lyric_version_for_size(79) == "v3" and vocab.lyric_version_for_size(80) == "v2"
    with pytest.raises(vocab.VocabError):
        vocab.lyric_version_for_size(81)


@pytest.mark.reference
def test_v2_lyric_vocabulary_equals_hf() -> None:
    transformers = pytest.importorskip("transformers")
    hf = transformers.JukeboxTokenizer.from_pretrained(ORIG_TINY / "tiny5b" / "hf_model")
    hf("a", "b", "c")  # HF builds its v2 character table during the call
    assert {**vocab.lyric_vocab("v2"), "<unk>": 0} == hf.lyrics_encoder


def test_names_lists_hold_only_reachable_names() -> None:
    v2 = vocab.artist_names("v2")
    # norm() strips a trailing '_', so the original can never look up "r_e_m_" (1095); "r_e_m" (238) it can.
    assert "r_e_m" in v2 and "r_e_m_" not in v2 and "" not in v2
    assert v2 == sorted(v2)
    for version in ("v2", "v3"):
        for names, table in (
            (vocab.artist_names(version), vocab.artist_table(version)),
            (vocab.genre_names(version), vocab.genre_table(version)),
        ):
            assert all(table.get(vocab.normalise(name, version)) == table.get(name) for name in names)
    assert len(vocab.artist_names("v3")) == len(_hf_tables("artists.json")["v3"])  # every v3 name is reachable
    assert "jazz\u200e" in vocab.genre_names("v3")


def _tier(query: str, name: str, version: str) -> int:
    """An independent statement of the ranking rule, for checking the order of results."""

    def fold(text: str) -> str:
        if version == "v2":
            return vocab.norm(text).replace("_", " ")
        from anyascii import anyascii

        text = "".join(c for c in text if c not in "\u200e\u200f")
        return " ".join(re.split(r"[^a-z0-9]+", anyascii(text).lower())).strip()

    q, n = fold(query), fold(name)
    if name == vocab.normalise(query, version):
        return 0
    if n == q:
        return 1
    if n.startswith(q):
        return 2
    if any(word.startswith(q) for word in n.split(" ")) or f" {q}" in f" {n}":
        return 3
    return 4 if q in n else 5


@pytest.mark.parametrize(
    ("search", "query", "version", "first"),
    [
        (vocab.search_genres, "Jazz", "v3", "jazz"),  # exact, then "jazz\u200e" (exact without the mark)
        (vocab.search_genres, "rock", "v2", "rock"),
        (vocab.search_artists, "beatles", "v2", "the_beatles"),  # word prefix
        (vocab.search_artists, "celine", "v3", "céline dion"),  # accents ignored
        (vocab.search_artists, "Beyonce", "v2", "beyonc"),  # fuzzy: v2 turned "é" into "_"
        (vocab.search_artists, "Alan Jackson", "v3", "alan jackson"),
        (vocab.search_artists, "R.E.M.", "v2", "r_e_m"),
    ],
)
def test_search_ranks_exact_prefix_word_substring_fuzzy(search, query: str, version: str, first: str) -> None:
    hits = search(query, version, limit=20)
    assert hits[0].name == first
    table = vocab.artist_table(version) if search is vocab.search_artists else vocab.genre_table(version)
    assert all(table.get(name) == id_ for name, id_ in hits)
    tiers = [_tier(query, name, version) for name, _ in hits]
    assert tiers == sorted(tiers)
    assert len({name for name, _ in hits}) == len(hits)


def test_search_details() -> None:
    jazz = vocab.search_genres("jazz", "v3", limit=3)
    assert [name for name, _ in jazz[:2]] == ["jazz", "jazz\u200e"]
    assert [hit.id for hit in jazz[:2]] == [230, 547]
    assert len(vocab.search_artists("a", "v3", limit=7)) == 7
    assert vocab.search_artists("a", "v3", limit=0) == []
    assert [n for n, _ in vocab.search_artists("", "v2", limit=5)] == vocab.artist_names("v2")[:5]
    assert vocab.search_artists("qqqqzzzzxxxx", "v3") == []
    # Only reachable names are offered.
    assert all(name != "r_e_m_" for name, _ in vocab.search_artists("r e m", "v2"))
    # A v3 name with an edge space is found from the accented spelling the file lost.
    assert ("gabriel faur ", 2262) in vocab.search_artists("Gabriel Fauré", "v3", limit=5)


def test_visible_name() -> None:
    assert vocab.visible_name("jazz\u200e") == "jazz‹U+200E›"
    assert vocab.visible_name("gabriel faur ") == "gabriel faur␣"
    assert vocab.visible_name("the beatles") == "the beatles"


def test_a_broken_table_names_the_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "v2_artist_ids.txt"
    bad.write_text("unknown;0\nno separator here\n", encoding="utf-8")
    monkeypatch.setattr(vocab, "resource", lambda *parts: tmp_path / parts[-1])
    with pytest.raises(vocab.VocabError, match=r"v2_artist_ids\.txt, line 2"):
        vocab._read_table("v2", "artist")
