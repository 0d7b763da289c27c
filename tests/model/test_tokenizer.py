"""The Jukebox tokenizer: labels per prior as the original Labeller makes them.

Oracles: the tokenizer cases of the tiny reference fixtures (ids written by HF transformers 4.40.2),
the HF tokenizer itself where marked ``reference``, the fixture's windowed metadata, and the HF
tokenizer files. Where HF deviates from the original (docs: reference/hf-jukebox.md §8, deviations
3-7) the tests assert the ORIGINAL behaviour and say why.
"""

from __future__ import annotations

import json
import logging
import shutil
import string
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from jukestudio.model import vocab
from jukestudio.model.config import JukeboxConfig, preset
from jukestudio.model.tokenizer import (
    JukeboxTokenizer,
    TokenizerError,
    TooManyGenresError,
    clean_lyrics,
    get_relevant_lyric_tokens,
)
from tests.conftest import ORIG_TINY

FIXTURES = ("tiny", "tiny5b")


def _reference(name: str) -> dict:
    return json.loads((ORIG_TINY / name / "reference.json").read_text(encoding="utf-8"))


def _hf_file(name: str, file_name: str) -> dict:
    return json.loads((ORIG_TINY / name / "hf_model" / file_name).read_text(encoding="utf-8"))


def _fixture_tokenizer(name: str) -> JukeboxTokenizer:
    return JukeboxTokenizer.for_config(JukeboxConfig.from_pretrained(ORIG_TINY / name / "hf_model"))


# ---------------------------------------------------------------------------------------------
# The required example (openai/jukebox labels.py __main__ uses the same inputs)


def test_alan_jackson_country_rock_old_town_road() -> None:
    out = JukeboxTokenizer()(artist="Alan Jackson", genres="Country Rock", lyrics="old town road")
    top, middle, bottom = out["input_ids"]
    assert top.dtype == torch.long and top.shape == (1, 4 + 1 + 13)
    assert top[0].tolist() == [0, 0, 0, 6785, 546, 41, 38, 30, 76, 46, 41, 49, 40, 76, 44, 41, 27, 30]
    for row in (middle, bottom):
        assert row[0].tolist() == [0, 0, 0, 145, 11, 8, -1, -1, -1]
    assert out.input_ids is out["input_ids"] and out.report.ok


# ---------------------------------------------------------------------------------------------
# The fixture cases

# HF deviation 3: HF looks a multi-word v2 genre up whole ("country_rock.v2" -> 0); the original
# normalises and then splits it into a bag of words, each looked up on its own.
ORIGINAL_V2_GENRE_WORDS = {
    "Country Rock": ["country", "rock"],
    "Blues Rock": ["blues", "rock"],
    "hip hop": ["hip", "hop"],
}
# HF deviations 5 and 6: the original transliterates with unidecode before deleting characters
# (è -> e, — -> --, ’ -> ', ß -> ss, ø -> o, ï -> i, é -> e, æ -> ae) and keeps '+' in v2 (id 70) but
# deletes it in v3; HF deletes non-ASCII letters, deletes '+' in v2 and maps it to 0 in v3.
ORIGINAL_CLEAN_LYRICS = {
    "Près de toi — don’t stop: 100% + more!": {
        "v3": "Pres de toi -- don't stop: 100  more!",
        "v2": "Pres de toi -- don't stop: 100 + more!",
    },
    "Straße, smørrebrød, naïve café æon": {
        "v3": "Strasse, smorrebrod, naive cafe aeon",
        "v2": "Strasse, smorrebrod, naive cafe aeon",
    },
}


def _char_ids(version: str) -> dict[str, int]:
    # v3: HF's lyrics.json (the oracle); v2: checked against HF's own v2 table in test_vocab.py.
    return _hf_file("tiny", "lyrics.json") if version == "v3" else dict(vocab.lyric_vocab("v2"))


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_cases(name: str) -> None:
    reference = _reference(name)["tokenizer"]
    hf_slots = reference["kwargs"]["n_genres"]
    hf_genres = _hf_file(name, "genres.json")
    tokenizer = _fixture_tokenizer(name)
    assert list(tokenizer.versions) == reference["kwargs"]["version"]
    checked_deviations = 0
    for case in reference["cases"]:
        ours = tokenizer(case["artist"], case["genres"], case["lyrics"], return_tensors=None)["input_ids"]
        for p, (row, hf_row) in enumerate(zip(ours, case["input_ids"])):
            version, slots, lyrics = tokenizer.versions[p], tokenizer.n_genres[p], tokenizer.with_lyrics[p]
            assert row[:4] == hf_row[:4], (case["artist"], p)  # the three zeros and the artist id

            # Genres. HF pads every prior to one shared n_genres (deviation 7); ours pads each prior to its
            # own slots (1 for the v3 top prior, 5 for v2), so only the genre ids themselves are compared.
            hf_ids = hf_row[4 : 4 + hf_slots] if lyrics else hf_row[4:]
            expected = [g for g in hf_ids if g != -1]
            if version == "v2" and case["genres"] in ORIGINAL_V2_GENRE_WORDS:
                expected = [hf_genres[word + ".v2"] for word in ORIGINAL_V2_GENRE_WORDS[case["genres"]]]
                checked_deviations += expected != [g for g in hf_ids if g != -1]
            assert row[4 : 4 + slots] == expected + [-1] * (slots - len(expected)), (case["genres"], p)

            # Lyrics: only priors that read them.
            expected_lyrics = hf_row[4 + hf_slots :] if lyrics else []
            if lyrics and case["lyrics"] in ORIGINAL_CLEAN_LYRICS:
                clean = ORIGINAL_CLEAN_LYRICS[case["lyrics"]][tokenizer.lyric_version]
                expected_lyrics = [_char_ids(tokenizer.lyric_version)[c] for c in clean]
                checked_deviations += expected_lyrics != hf_row[4 + hf_slots :]
            assert row[4 + slots :] == expected_lyrics, (case["lyrics"], p)
    assert checked_deviations >= 4  # the deviations really occur in these cases


def test_hf_genre_lookup_of_underscored_names_agrees() -> None:
    # "country_rock": the one spelling where HF's v2 split happens to equal the original's.
    tok = JukeboxTokenizer()
    assert tok.analyse("Alan Jackson", "country_rock").priors[1].genre_ids[:2] == (11, 8)
    assert tok.analyse("Alan Jackson", "country_rock").priors[0].genre_ids == (0,)  # unknown in v3


def test_v2_artist_names_lose_dots_like_the_original() -> None:
    # HF deviation 4: HF keeps '.', so "R.E.M." -> "r.e.m..v2" -> unknown; the original gets r_e_m.
    report = JukeboxTokenizer(versions=["v2"]).analyse("R.E.M.", "rock")
    assert report.priors[0].artist_key == "r_e_m"
    assert report.priors[0].artist_id == _hf_file("tiny", "artists.json")["r_e_m.v2"]


@pytest.mark.parametrize("name", FIXTURES)
def test_lyric_window_matches_the_reference_metadata(name: str) -> None:
    tensors = load_file(ORIG_TINY / name / "reference.safetensors")
    labels, metadata = tensors["prior0.labels"][0].tolist(), tensors["prior0.metadata"][0]
    tokenizer = _fixture_tokenizer(name)
    head = 4 + tokenizer.n_genres[0]
    n_tokens = JukeboxConfig.from_pretrained(ORIG_TINY / name / "hf_model").prior_configs[0].nb_relevant_lyric_tokens
    total_length, offset, duration = metadata[0], metadata[1], metadata[2]
    tokens, indices = get_relevant_lyric_tokens(labels[head:], n_tokens, total_length, offset, duration)
    assert tokens == metadata[head:].tolist()
    assert indices == list(range(indices[0], indices[0] + n_tokens))
    # The same with plain ints (how the sampling code calls it).
    again = get_relevant_lyric_tokens(labels[head:], n_tokens, int(total_length), int(offset), int(duration))
    assert again == (tokens, indices)


# ---------------------------------------------------------------------------------------------
# Lyrics text


def test_odd_characters() -> None:
    lyrics = "Привет мир\tß — don’t 😀\\next"
    report = JukeboxTokenizer().analyse("x", "y", lyrics)
    # unidecode (the original) gives: Privet mir, ss, --, don't, nothing for the emoji; '\' -> newline.
    assert report.lyrics.text == "Privet mir\tss -- don't \nnext"
    emoji = lyrics.index("😀")
    assert report.dropped_chars == [(emoji, "😀")]
    assert (lyrics.index("’"), "’", "'") in report.transliterated
    assert (lyrics.index("—"), "—", "--") in report.transliterated
    assert (lyrics.index("ß"), "ß", "ss") in report.transliterated
    assert report.lyric_ids[report.lyrics.text.index("\t")] == vocab.lyric_vocab("v3")["\t"]
    assert [lyrics[i] for i in report.lyrics.positions[:6]] == list("Привет")
    assert lyrics[report.lyrics.positions[report.lyrics.text.index("\n")]] == "\\"
    assert not report.ok and any("dropped" in m for m in report.messages())


def test_plus_is_kept_in_v2_and_dropped_in_v3() -> None:
    assert clean_lyrics("1+1", "v2").ids == (54, 70, 54)
    v3 = clean_lyrics("1+1", "v3")
    assert v3.ids == (54, 54) and v3.dropped == ((1, "+"),)


def test_cjk_and_fractions_follow_unidecode_spacing() -> None:
    # unidecode writes a space after each CJK syllable ("Ri Ben "); anyascii alone would give "RiBen".
    assert clean_lyrics("日本", "v3").text == "Ri Ben "
    assert clean_lyrics("½", "v3").text == " 12"  # " 1/2" with '/' deleted


def test_empty_lyrics() -> None:
    out = JukeboxTokenizer()("Alan Jackson", "Country Rock", "")
    assert [row.shape[1] for row in out["input_ids"]] == [5, 9, 9]
    assert out.report.lyric_ids == [] and out.report.dropped_chars == []
    assert JukeboxTokenizer()("Alan Jackson", "Country Rock", None).report.lyric_ids == []


@settings(max_examples=200, deadline=None)
@given(lyrics=st.text(max_size=120))
def test_any_unicode_lyrics_never_crash_and_stay_in_the_vocab(lyrics: str) -> None:
    for version in ("v2", "v3"):
        tokenizer = JukeboxTokenizer(versions=[version, "v2", "v2"])
        out = tokenizer("Alan Jackson", "Rock", lyrics)
        report = out.report
        ids = report.lyric_ids
        assert all(1 <= i < tokenizer.lyric_vocab_size for i in ids)
        assert out["input_ids"][0][0, 4 + tokenizer.n_genres[0] :].tolist() == ids
        assert tokenizer.decode(ids) == report.lyrics.text
        positions = list(report.lyrics.positions)
        assert positions == sorted(positions) and len(positions) == len(ids)
        dropped = [i for i, _ in report.dropped_chars]
        assert set(dropped).isdisjoint(positions)
        assert sorted(set(dropped) | set(positions)) == list(range(len(lyrics)))
        assert all(lyrics[i] == c for i, c in report.dropped_chars)
        assert all(lyrics[i] == c and not c.isascii() for i, c, _ in report.transliterated)


ASCII_WITHOUT_PLUS = "".join(c for c in string.printable if c != "+")


@pytest.fixture(scope="module")
def hf_tokenizers():
    transformers = pytest.importorskip("transformers")
    return {name: transformers.JukeboxTokenizer.from_pretrained(ORIG_TINY / name / "hf_model") for name in FIXTURES}


@pytest.mark.reference
@settings(max_examples=150, deadline=None)
@given(lyrics=st.text(alphabet=ASCII_WITHOUT_PLUS, max_size=80))
def test_ascii_lyrics_equal_hf(hf_tokenizers, lyrics: str) -> None:
    # For ASCII without '+', HF's cleaning is the original's: the ids must be equal.
    for name in FIXTURES:
        hf_row = hf_tokenizers[name]("Alan Jackson", "Rock", lyrics)["input_ids"][0][0].tolist()
        ours = _fixture_tokenizer(name)("Alan Jackson", "Rock", lyrics, return_tensors=None)
        hf_slots = _reference(name)["tokenizer"]["kwargs"]["n_genres"]
        assert ours.report.lyric_ids == hf_row[4 + hf_slots :]


# ---------------------------------------------------------------------------------------------
# Names


def test_unknown_artist_is_zero_and_reported(caplog: pytest.LogCaptureFixture, capsys) -> None:
    tokenizer = JukeboxTokenizer()
    with caplog.at_level(logging.DEBUG, logger="jukestudio.model.tokenizer"):
        out = tokenizer("Mr. Nobody & The Unknowns", "Country Rock", "la la")
    report = out.report
    assert [row[0, 3].item() for row in out["input_ids"]] == [0, 0, 0]
    assert report.unknown_artist and [p.artist_key for p in report.priors] == [
        "mr. nobody & the unknowns",
        "mr_nobody_the_unknowns",
        "mr_nobody_the_unknowns",
    ]
    assert any("mr_nobody_the_unknowns" in m for m in report.messages())
    assert "unknown" in caplog.text
    assert capsys.readouterr() == ("", "")  # nothing printed


def test_unknown_genre_words_are_reported() -> None:
    report = JukeboxTokenizer().analyse("Alan Jackson", "Rock Polkacore")
    assert report.unknown_genres == ["rock polkacore", "polkacore"]
    assert report.priors[1].genre_ids[:2] == (vocab.genre_table("v2").get("rock"), 0)


def test_too_many_genres_is_a_clear_error() -> None:
    tokenizer = JukeboxTokenizer()
    with pytest.raises(TooManyGenresError, match="at most 5 genre words; got 6") as info:
        tokenizer("Alan Jackson", "pop rock jazz blues soul funk")
    assert info.value.genres == ["pop", "rock", "jazz", "blues", "soul", "funk"] and info.value.limit == 5
    assert "'funk'" in str(info.value)
    with pytest.raises(TooManyGenresError, match="top prior"):
        tokenizer("Alan Jackson", ["Rock", "Pop"])  # the v3 top prior takes one genre


def test_genres_as_a_list() -> None:
    tokenizer = JukeboxTokenizer.for_config(preset("5b_lyrics"))
    as_list = tokenizer("Alan Jackson", ["Country", "Rock"], return_tensors=None)["input_ids"]
    assert as_list == tokenizer("Alan Jackson", "Country Rock", return_tensors=None)["input_ids"]
    assert tokenizer("Alan Jackson", [], return_tensors=None)["input_ids"][1][4:] == [-1] * 5


def test_v3_invisible_marks_and_duplicates() -> None:
    genres = _hf_file("tiny", "genres.json")
    artists = _hf_file("tiny", "artists.json")
    tokenizer = JukeboxTokenizer(versions=["v3"])
    assert tokenizer.analyse("x", "Jazz").priors[0].genre_ids == (genres["jazz"],)
    assert tokenizer.analyse("x", "Jazz\u200e").priors[0].genre_ids == (genres["jazz\u200e"],)
    assert genres["jazz"] != genres["jazz\u200e"]
    assert tokenizer.analyse("Speaker", "x").priors[0].artist_id == artists["speaker"] == 7896


# ---------------------------------------------------------------------------------------------
# Construction, output forms, decode, windows


def test_for_config_of_the_presets() -> None:
    one_b = JukeboxTokenizer.for_config(preset("1b_lyrics"))
    assert one_b.versions == ("v3", "v2", "v2") and one_b.n_genres == (1, 5, 5)
    assert one_b.with_lyrics == (True, False, False) and one_b.lyric_vocab_size == 79
    assert one_b.max_n_lyric_tokens == 384
    five = JukeboxTokenizer.for_config(preset("5b_lyrics"))
    assert five.versions == ("v2",) * 3 and five.lyric_vocab_size == 80 and five.max_n_lyric_tokens == 512
    no_lyrics = JukeboxTokenizer.for_config(preset("5b"))
    assert no_lyrics.lyric_version is None
    report = no_lyrics.analyse("Alan Jackson", "Rock", "words the model cannot read")
    assert report.ignored_lyrics and report.lyric_ids == [] and report.input_ids[0] == [0, 0, 0, 145, 8, -1, -1, -1, -1]
    with pytest.raises(TokenizerError, match="no lyric vocabulary"):
        no_lyrics.decode([1])


@pytest.mark.parametrize("name", FIXTURES)
def test_from_pretrained_reads_hf_folders(name: str) -> None:
    tokenizer = JukeboxTokenizer.from_pretrained(ORIG_TINY / name / "hf_model")
    expected = _fixture_tokenizer(name)
    assert repr(tokenizer) == repr(expected)
    assert tokenizer.vocab_mismatches == []  # HF's artists/genres/lyrics files agree with our tables


def test_from_pretrained_without_config_and_with_bad_files(tmp_path: Path, caplog) -> None:
    source = ORIG_TINY / "tiny" / "hf_model"
    for file_name in ("tokenizer_config.json", "artists.json", "genres.json", "lyrics.json"):
        shutil.copy(source / file_name, tmp_path / file_name)
    tokenizer = JukeboxTokenizer.from_pretrained(tmp_path)
    assert tokenizer.versions == ("v3", "v2", "v2") and tokenizer.n_genres == (1, 5, 5)
    assert tokenizer.with_lyrics == (True, False, False) and tokenizer.lyric_version == "v3"

    artists = json.loads((tmp_path / "artists.json").read_text(encoding="utf-8"))
    artists["alan jackson"] = 1
    (tmp_path / "artists.json").write_text(json.dumps(artists), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        changed = JukeboxTokenizer.from_pretrained(tmp_path)
    assert changed.vocab_mismatches == ["artists.json 'alan jackson': 1 (ours: 6785)"]
    assert "disagree" in caplog.text
    assert changed.analyse("Alan Jackson", "Rock").priors[0].artist_id == 6785  # ids stay the original's

    shutil.copy(source / "config.json", tmp_path / "config.json")
    config = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["version"] = ["v2", "v2", "v2"]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"disagree with the model's config\.json"):
        JukeboxTokenizer.from_pretrained(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text("{", encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"tokenizer_config\.json"):
        JukeboxTokenizer.from_pretrained(tmp_path)
    with pytest.raises(TokenizerError, match="not found"):
        JukeboxTokenizer.from_pretrained(tmp_path / "missing")


def test_bad_constructor_arguments() -> None:
    with pytest.raises(TokenizerError, match="v4"):
        JukeboxTokenizer(versions=["v4"])
    with pytest.raises(TokenizerError, match="2 entries for 3 priors"):
        JukeboxTokenizer(n_genres=[1, 5])
    with pytest.raises(TokenizerError, match="genre slot"):
        JukeboxTokenizer(n_genres=0)
    with pytest.raises(TypeError):
        JukeboxTokenizer()(artist=None, genres="rock")  # type: ignore[arg-type]


def test_return_tensor_forms() -> None:
    tokenizer = JukeboxTokenizer()
    as_np = tokenizer("Alan Jackson", "Rock", "hey", return_tensors="np")["input_ids"]
    as_pt = tokenizer("Alan Jackson", "Rock", "hey", return_tensors="pt")["input_ids"]
    as_list = tokenizer("Alan Jackson", "Rock", "hey", return_tensors=None)["input_ids"]
    assert all(a.dtype == np.int64 and a.shape[0] == 1 for a in as_np)
    assert [a[0].tolist() for a in as_np] == [t[0].tolist() for t in as_pt] == as_list
    with pytest.raises(TokenizerError, match="return_tensors"):
        tokenizer("Alan Jackson", "Rock", return_tensors="tf")


def test_decode() -> None:
    tokenizer = JukeboxTokenizer()
    row = tokenizer("Alan Jackson", "Country Rock", "old town road")["input_ids"][0]
    assert tokenizer.decode(row[0, 5:]) == "old town road"
    assert tokenizer.decode([0, 0, 41, 0]) == "o"  # padding decodes to nothing
    assert tokenizer.decode([70], version="v2") == "+"
    with pytest.raises(TokenizerError, match="outside the v3"):
        tokenizer.decode([79])


def test_lyric_window_padding_clamping_and_errors() -> None:
    assert get_relevant_lyric_tokens([5, 6, 7], 5, 100, 0, 10) == ([0, 0, 5, 6, 7], [-1, -1, 0, 1, 2])
    full = list(range(1, 101))
    start_tokens, start_indices = get_relevant_lyric_tokens(full, 10, 1000, 0, 10)
    assert start_tokens == full[:10] and start_indices == list(range(10))
    end_tokens, _ = get_relevant_lyric_tokens(full, 10, 1000, 990, 10)
    assert end_tokens == full[-10:]
    middle, _ = get_relevant_lyric_tokens(torch.tensor(full), 10, 1000, 495, 10)
    assert middle == full[45:55]  # centred on character 100 * 500 / 1000
    assert get_relevant_lyric_tokens(full, 0, 1000, 0, 10) == ([], [])
    with pytest.raises(ValueError, match="outside the song"):
        get_relevant_lyric_tokens(full, 10, 1000, 1000, 10)
    with pytest.raises(ValueError, match="even"):
        get_relevant_lyric_tokens(full, 9, 1000, 0, 10)


@pytest.fixture(scope="module")
def hf_window():
    pytest.importorskip("transformers")
    from transformers.models.jukebox.modeling_jukebox import get_relevant_lyric_tokens as hf_window

    return hf_window


@pytest.mark.reference
@settings(max_examples=300, deadline=None)
@given(
    length=st.integers(0, 600),
    half=st.integers(1, 64),
    total=st.integers(1, 10**9),
    offset_fraction=st.floats(0, 1, exclude_max=True),
    duration=st.integers(1, 10**8),
)
def test_lyric_window_equals_hf(hf_window, length, half, total, offset_fraction, duration) -> None:
    # HF's get_relevant_lyric_tokens is the original formula (it gets the label values as int64 tensors).
    full = torch.arange(1, length + 1)
    offset = min(int(offset_fraction * total), total - 1)
    theirs, their_indices = hf_window(
        full[None], 2 * half, torch.tensor(total), torch.tensor(offset), torch.tensor(duration)
    )
    ours, our_indices = get_relevant_lyric_tokens(full.tolist(), 2 * half, total, offset, duration)
    assert ours == theirs[0].tolist() and our_indices == their_indices


@pytest.mark.reference
@pytest.mark.parametrize(
    ("length", "total", "offset", "duration"),
    # Realistic songs where float64 arithmetic would put the midpoint one character later than the
    # original's float32 (found by a random search against HF's function).
    [(3643, 10403152, 8576685, 1048576), (3600, 16197744, 4658990, 1048576), (3099, 18101102, 10944066, 786432)],
)
def test_lyric_window_rounds_like_the_original(hf_window, length, total, offset, duration) -> None:
    full = torch.arange(1, length + 1)
    theirs, their_indices = hf_window(
        full[None], 384, torch.tensor(total), torch.tensor(offset), torch.tensor(duration)
    )
    ours, our_indices = get_relevant_lyric_tokens(full.tolist(), 384, total, offset, duration)
    assert ours == theirs[0].tolist() and our_indices == their_indices
    assert our_indices[0] != int(length * (offset + duration / 2) / total) - 192  # float64 would differ
