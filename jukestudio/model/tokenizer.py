"""Jukebox labels: artist, genre and lyric ids per prior, like the original ``Labeller`` (openai/jukebox).

Public API follows Hugging Face's ``JukeboxTokenizer`` (transformers 4.40.2)::

    tok = JukeboxTokenizer.for_config(config)
    out = tok(artist="Alan Jackson", genres="Country Rock", lyrics="old town road", return_tensors="pt")
    out["input_ids"][p]  # LongTensor (1, 4 + n_genres[p] + n_lyrics[p]), prior order (0 = top)

Each row is ``[0, 0, 0, artist_id, genre ids padded with -1, full lyric ids...]`` (the three zeros are
``total_length, offset, sample_length``, filled per window by the prior). Only priors that read lyrics
get lyric ids. Where HF's tokenizer differs from the original we follow the original:

* v2 genres are a bag of words: ``norm(genre).split('_')`` ("Country Rock" -> country, rock = [11, 8]);
  HF splits before normalising and looks up ``country_rock`` whole (-> 0).
* v2 names drop ``.`` like every other non-alphanumeric ("R.E.M." -> ``r_e_m``); HF keeps it.
* Lyrics are transliterated to ASCII first (``don’t`` -> ``don't``, ``Straße`` -> ``Strasse``); HF deletes
  non-ASCII letters instead.
* ``+`` is lyric id 70 in v2 and deleted in v3; HF deletes it in v2 and maps it to 0 in v3.
* Each prior has its own number of genre slots (1b top: 1, upsamplers: 5); HF shares one.

Nothing is printed: :meth:`JukeboxTokenizer.analyse` returns a :class:`TokenizeReport` with unknown names,
dropped and transliterated characters (positions in the caller's text, for highlighting).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anyascii import anyascii

from jukestudio.model import vocab
from jukestudio.model.vocab import Version

if TYPE_CHECKING:
    import torch

    from jukestudio.model.config import JukeboxConfig

# torch is imported where tensors are made: analysing labels (the CLI's checks) must not wait for it.

log = logging.getLogger(__name__)


class TokenizerError(ValueError):
    """Inputs or tokenizer files the tokenizer cannot use; the message says what and where."""


class TooManyGenresError(TokenizerError):
    """More genre words than a prior has genre slots."""

    def __init__(self, message: str, genres: Sequence[str], limit: int) -> None:
        super().__init__(message)
        self.genres = list(genres)
        self.limit = limit


# ---------------------------------------------------------------------------------------------
# Lyrics text: transliteration and cleaning (jukebox/data/text_processor.py)

# The original runs unidecode (GPL) over the lyrics; we use anyascii (ISC). They agree on plain Latin
# letters with accents, ’ ‘ “ ” – … « » ß æ ø œ and Russian. Where they differ on characters lyrics meet
# we follow unidecode: the table below (Latin-1, Latin Extended-A, dashes, line separators, Ukrainian,
# modern vs classical Greek) and two rules: emoji (anyascii writes ":grinning:", unidecode drops them)
# and CJK ideographs (unidecode adds a space after each syllable: "日本" -> "Ri Ben "). Measured after
# cleaning to the v2 vocabulary against unidecode 1.4.0: Latin-1, Latin Extended-A, Russian and basic
# Greek letters now agree everywhere. Still different: Hangul final consonants ("갂" gakk vs gagg, 38 %
# of syllables), Kana romanisation (ji/zi, fu/hu, tsu; 15 %), 12 % of CJK readings, rarer Cyrillic and
# Latin Extended-B letters, 12 % of emoji (anyascii maps a few to "+" or a letter), math/arrows/symbols.
_UNIDECODE_COMPAT: dict[str, str] = {
    "\u00a2": "C",  # ¢
    "\u00a3": "PS",  # £
    "\u00a4": "?",  # ¤
    "\u00a7": "SS",  # §
    "\u00a9": "(c)",  # ©
    "\u00ae": "(r)",  # ®
    "\u00b7": "",  # · (unidecode: nothing; anyascii: '-')
    "\u00bc": " 1/4",  # ¼
    "\u00bd": " 1/2",  # ½
    "\u00be": " 3/4",  # ¾
    "\u00c6": "AE",  # Æ
    "\u00d7": "x",  # ×
    "\u0138": "k",  # ĸ
    "\u014a": "NG",  # Ŋ
    "\u0152": "OE",  # Œ
    "\u200b": " ",  # zero width space
    "\u2014": "--",  # — em dash
    "\u2015": "--",  # ― horizontal bar
    "\u2043": "--",  # ⁃
    "\u201a": ",",  # ‚
    "\u201e": ",,",  # „
    "\u2027": ".",  # ‧
    "\u2028": "\n",  # line separator
    "\u2029": "\n\n",  # paragraph separator
    "\u0401": "Io",  # Ё
    "\u0451": "io",  # ё
    "\u0407": "Yi",  # Ї
    "\u0457": "yi",  # ї
    "\u0419": "I",  # Й
    "\u0439": "i",  # й
    "\u042e": "Iu",  # Ю
    "\u044e": "iu",  # ю
    "\u042f": "Ia",  # Я
    "\u044f": "ia",  # я
    "\u0490": "G'",  # Ґ
    "\u0491": "g'",  # ґ
}
# Modern Greek (anyascii) vs classical (unidecode) transliteration.
_UNIDECODE_COMPAT.update(
    zip(
        "ΉΎΐΒΗΞΥΦΧΫήΰβηυφχϋύ",
        ["E", "U", "I", "B", "E", "Ks", "U", "Ph", "Kh", "U", "e", "u", "b", "e", "u", "ph", "kh", "u", "u"],
    )
)
_EMOJI_NAME = re.compile(r":[A-Za-z0-9_+\-]+:")


def _is_cjk_ideograph(code: int) -> bool:
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF


def transliterate(char: str) -> str:
    """One character to ASCII the way the original's ``unidecode`` does, as closely as anyascii allows."""
    if char.isascii():
        return char
    if char in _UNIDECODE_COMPAT:
        return _UNIDECODE_COMPAT[char]
    text = anyascii(char)
    if _EMOJI_NAME.fullmatch(text):
        return ""
    code = ord(char)
    if text and _is_cjk_ideograph(code):
        return text + " "
    if 0xAC00 <= code <= 0xD7A3:  # Hangul syllables: unidecode writes them lower case
        return text.lower()
    return text


@dataclass(frozen=True)
class CleanedLyrics:
    """Lyrics as the model sees them, with where every id came from."""

    version: Version
    text: str  # the cleaned text (one character per id)
    ids: tuple[int, ...]
    positions: tuple[int, ...]  # for each id: index of its source character in the original lyrics
    dropped: tuple[tuple[int, str], ...]  # (index, char): contributes no id at all
    transliterated: tuple[tuple[int, str, str], ...]  # (index, char, what it became): non-ASCII, kept

    @property
    def dropped_positions(self) -> list[int]:
        return [i for i, _ in self.dropped]


def clean_lyrics(lyrics: str, version: str) -> CleanedLyrics:
    """The original ``TextProcessor.clean`` + ``tokenise``: transliterate, ``\\`` -> newline, drop the rest.

    Both steps work one code point at a time, so each id is traced back to its source character.
    """
    table = vocab.lyric_vocab(version)
    text: list[str] = []
    ids: list[int] = []
    positions: list[int] = []
    dropped: list[tuple[int, str]] = []
    transliterated: list[tuple[int, str, str]] = []
    for index, char in enumerate(lyrics):
        kept = [c for c in transliterate(char).replace("\\", "\n") if c in table]
        if not kept:
            dropped.append((index, char))
            continue
        if not char.isascii():
            transliterated.append((index, char, "".join(kept)))
        for c in kept:
            text.append(c)
            ids.append(table[c])
            positions.append(index)
    return CleanedLyrics(
        vocab.check_version(version),
        "".join(text),
        tuple(ids),
        tuple(positions),
        tuple(dropped),
        tuple(transliterated),
    )


# ---------------------------------------------------------------------------------------------
# Lyric windows (jukebox/data/labels.py)


def _as_int64(value: Any) -> torch.Tensor:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().reshape(()).to(device="cpu", dtype=torch.int64)
    return torch.tensor(int(value), dtype=torch.int64)


def get_relevant_lyric_tokens(
    full_tokens: Sequence[int] | torch.Tensor, n_tokens: int, total_length: Any, offset: Any, duration: Any
) -> tuple[list[int], list[int]]:
    """The ``n_tokens`` lyric ids the prior sees for the audio window ``[offset, offset + duration)``.

    Exactly the original: shorter lyrics are left-padded with 0 (index -1); otherwise the window is
    centred on ``len * (offset + duration / 2) / total_length`` (characters spread linearly over the
    song), clamped to the lyrics. ``total_length``, ``offset``, ``duration`` are in samples. Returns
    ``(tokens, indices)``; ``indices[i]`` is the position of ``tokens[i]`` in ``full_tokens`` or -1.
    """
    import torch

    full = full_tokens.reshape(-1).tolist() if isinstance(full_tokens, torch.Tensor) else [int(t) for t in full_tokens]
    if n_tokens < 0:
        raise ValueError(f"n_tokens must be >= 0, got {n_tokens}")
    if len(full) < n_tokens:
        pad = n_tokens - len(full)
        return [0] * pad + full, [-1] * pad + list(range(len(full)))
    if n_tokens == 0:
        return [], []
    total, start, length = _as_int64(total_length), _as_int64(offset), _as_int64(duration)
    if not 0 <= int(start) < int(total):
        raise ValueError(f"lyric window: offset {int(start)} is outside the song (total_length {int(total)})")
    if n_tokens % 2:
        raise ValueError(f"lyric window: n_tokens must be even to centre a window, got {n_tokens}")
    # The original reads these three from the int64 label tensor, so the midpoint is float32 arithmetic;
    # doing the same keeps every window identical to the original's, even for long songs.
    midpoint = int(len(full) * (start + length / 2.0) / total)
    half = n_tokens // 2
    midpoint = min(max(midpoint, half), len(full) - half)
    return full[midpoint - half : midpoint + half], list(range(midpoint - half, midpoint + half))


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class PriorLabels:
    """The artist/genre part of one prior's row, with what was looked up."""

    version: Version
    artist_key: str  # the normalised name that was looked up
    artist_id: int
    genre_keys: tuple[str, ...]  # the looked-up genre words (v2) or genres (v3)
    genre_ids: tuple[int, ...]  # padded with -1 to the prior's genre slots
    unknown_artist: bool
    unknown_genres: tuple[str, ...]
    has_lyrics: bool

    def row(self, lyric_ids: Sequence[int]) -> list[int]:
        return [0, 0, 0, self.artist_id, *self.genre_ids, *(lyric_ids if self.has_lyrics else ())]


@dataclass(frozen=True)
class TokenizeReport:
    """Everything :meth:`JukeboxTokenizer.analyse` found, for the GUI and for logs."""

    priors: tuple[PriorLabels, ...]  # prior order: 0 = top
    lyrics: CleanedLyrics | None  # None when no prior reads lyrics
    ignored_lyrics: bool = False  # lyrics were given but this model does not read them
    notes: tuple[str, ...] = field(default=())

    @property
    def input_ids(self) -> list[list[int]]:
        lyric_ids = self.lyric_ids
        return [prior.row(lyric_ids) for prior in self.priors]

    @property
    def lyric_ids(self) -> list[int]:
        return list(self.lyrics.ids) if self.lyrics else []

    @property
    def unknown_artist(self) -> bool:
        return any(p.unknown_artist for p in self.priors)

    @property
    def unknown_genres(self) -> list[str]:
        """Looked-up genre keys that no table knows (each once, in order)."""
        seen: dict[str, None] = {}
        for prior in self.priors:
            seen.update(dict.fromkeys(prior.unknown_genres))
        return list(seen)

    @property
    def dropped_chars(self) -> list[tuple[int, str]]:
        return list(self.lyrics.dropped) if self.lyrics else []

    @property
    def transliterated(self) -> list[tuple[int, str, str]]:
        return list(self.lyrics.transliterated) if self.lyrics else []

    @property
    def ok(self) -> bool:
        """True when every name was known and every character kept as typed."""
        return not (self.unknown_artist or self.unknown_genres or self.dropped_chars or self.transliterated)

    def messages(self) -> list[str]:
        """Short human-readable findings (one per problem), e.g. for a status line or a log."""
        out: list[str] = []
        for version in dict.fromkeys(p.version for p in self.priors):
            priors = [p for p in self.priors if p.version == version]
            which = _which_priors([i for i, p in enumerate(self.priors) if p.version == version])
            if priors[0].unknown_artist:
                out.append(f"artist {priors[0].artist_key!r} is unknown to {which} ({version}); id 0 (unknown) used")
            unknown = list(dict.fromkeys(g for p in priors for g in p.unknown_genres))
            if unknown:
                names = ", ".join(repr(g) for g in unknown)
                out.append(f"genre {names} unknown to {which} ({version}); id 0 (unknown) used")
        if self.dropped_chars:
            chars = "".join(dict.fromkeys(c for _, c in self.dropped_chars))
            out.append(f"{len(self.dropped_chars)} lyric character(s) dropped: {chars!r}")
        if self.transliterated:
            _, char, ascii_text = self.transliterated[0]
            out.append(
                f"{len(self.transliterated)} lyric character(s) written in ASCII (e.g. {char} -> {ascii_text!r})"
            )
        if self.ignored_lyrics:
            out.append("this model does not read lyrics; they are ignored")
        return out + list(self.notes)


def _which_priors(indices: list[int]) -> str:
    names = {0: "the top prior", 1: "the middle upsampler", 2: "the bottom upsampler"}
    if set(indices) == {1, 2}:
        return "the upsamplers"
    if set(indices) == {0, 1, 2}:
        return "every prior"
    return " and ".join(names.get(i, f"prior {i}") for i in indices)


class TokenizerOutput(dict):
    """``{"input_ids": [row per prior]}`` (dict-like, as HF's ``BatchEncoding``) plus the ``report``."""

    def __init__(self, input_ids: list[Any], report: TokenizeReport) -> None:
        super().__init__(input_ids=input_ids)
        self.report = report

    @property
    def input_ids(self) -> list[Any]:
        return self["input_ids"]


# ---------------------------------------------------------------------------------------------
# The tokenizer


def _per_prior(value: Any, count: int, name: str) -> list[Any]:
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise TokenizerError(f"{name} has {len(value)} entries for {count} priors")
        return list(value)
    return [value] * count


class JukeboxTokenizer:
    """Artist, genre and lyric ids for each prior of a Jukebox model (prior order: 0 = top).

    ``versions``: the label version of each prior ("v3" only for the 1b_lyrics top prior).
    ``n_genres``: genre slots per prior (an int for all); default 1 for v3, 5 for v2.
    ``with_lyrics``: which priors read lyrics; default only the top one (HF's behaviour).
    ``lyric_version``: lyric vocabulary, "v2" (80 ids, with ``+``) or "v3" (79); default ``versions[0]``.
    ``max_n_lyric_tokens``: the lyric window of the top prior (``nb_relevant_lyric_tokens``); the
    returned rows hold the FULL lyrics, :func:`get_relevant_lyric_tokens` cuts the window per sampling
    window (as in HF, where it is stored only).
    """

    def __init__(
        self,
        versions: Sequence[str] = ("v3", "v2", "v2"),
        n_genres: int | Sequence[int] | None = None,
        max_n_lyric_tokens: int = 512,
        *,
        with_lyrics: Sequence[bool] | None = None,
        lyric_version: str | None = None,
    ) -> None:
        if isinstance(versions, str) or not versions:
            raise TokenizerError(f"versions must be a list of 'v2'/'v3' per prior, got {versions!r}")
        try:
            self.versions: tuple[Version, ...] = tuple(vocab.check_version(v) for v in versions)
        except vocab.VocabError as exc:
            raise TokenizerError(str(exc)) from None
        count = len(self.versions)
        if n_genres is None:
            slots = [1 if v == "v3" else 5 for v in self.versions]
        else:
            slots = [int(n) for n in _per_prior(n_genres, count, "n_genres")]
        if any(n < 1 for n in slots):
            raise TokenizerError(f"every prior needs at least one genre slot, got n_genres={slots}")
        self.n_genres: tuple[int, ...] = tuple(slots)
        flags = [i == 0 for i in range(count)] if with_lyrics is None else _per_prior(with_lyrics, count, "with_lyrics")
        self.with_lyrics: tuple[bool, ...] = tuple(bool(f) for f in flags)
        self.lyric_version: Version | None = None
        if any(self.with_lyrics):
            try:
                self.lyric_version = vocab.check_version(lyric_version or self.versions[0])
            except vocab.VocabError as exc:
                raise TokenizerError(str(exc)) from None
        self.max_n_lyric_tokens = int(max_n_lyric_tokens)
        self.vocab_mismatches: list[str] = []  # filled by from_pretrained when HF files disagree with ours

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def for_config(cls, config: JukeboxConfig) -> JukeboxTokenizer:
        """The tokenizer a model needs: label version, genre slots and lyrics of each prior."""
        priors = config.prior_configs
        if not priors:
            raise TokenizerError(f"config {config.name!r} has no priors")
        lyric_priors = [p for p in priors if p.has_lyrics]
        lyric_version = None
        if lyric_priors:
            try:
                lyric_version = vocab.lyric_version_for_size(lyric_priors[0].lyric_vocab_size)
            except vocab.VocabError as exc:
                raise TokenizerError(f"config {config.name!r}: {exc}") from None
        return cls(
            versions=[p.label_version for p in priors],
            n_genres=[p.max_nb_genres for p in priors],
            max_n_lyric_tokens=lyric_priors[0].nb_relevant_lyric_tokens if lyric_priors else 0,
            with_lyrics=[p.has_lyrics for p in priors],
            lyric_version=lyric_version,
        )

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> JukeboxTokenizer:
        """The tokenizer of a Hugging Face Jukebox folder (``tokenizer_config.json``; ids from our tables).

        With a ``config.json`` beside it, the per-prior genre slots and lyric flags come from the model
        config (see :meth:`for_config`). HF's ``artists.json`` / ``genres.json`` / ``lyrics.json`` are compared
        with our tables; disagreements are logged and kept in ``vocab_mismatches``.
        """
        directory = Path(directory)
        path = directory / "tokenizer_config.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            versions = data["version"]
            n_genres = int(data.get("n_genres", 5))
            max_n_lyric_tokens = int(data.get("max_n_lyric_tokens", 512))
        except FileNotFoundError:
            raise TokenizerError(f"{path}: not found (not a Hugging Face Jukebox folder?)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise TokenizerError(f"{path}: not a Jukebox tokenizer config ({exc!r})") from None
        if not isinstance(versions, list) or not all(v in vocab.VERSIONS for v in versions):
            raise TokenizerError(f"{path}: 'version' must list 'v2'/'v3' per prior, got {versions!r}")

        if (directory / "config.json").is_file():
            from jukestudio.model.config import ConfigError, JukeboxConfig

            try:
                tokenizer = cls.for_config(JukeboxConfig.from_pretrained(directory))
            except ConfigError as exc:
                raise TokenizerError(str(exc)) from None
            if list(tokenizer.versions) != versions:
                raise TokenizerError(
                    f"{path}: label versions {versions} disagree with the model's config.json "
                    f"({list(tokenizer.versions)}, from each prior's metadata_dims)"
                )
        else:
            # HF shares one n_genres; v2 upsamplers keep their 5-word bag (as config.py does for the model).
            slots = [n_genres if i == 0 or v == "v3" else max(n_genres, 5) for i, v in enumerate(versions)]
            tokenizer = cls(versions, slots, max_n_lyric_tokens)
        tokenizer.vocab_mismatches = _compare_hf_vocab(directory, tokenizer)
        if tokenizer.vocab_mismatches:
            log.warning(
                "%s: %d Hugging Face tokenizer entries disagree with the original id tables (we use the "
                "original's), e.g. %s",
                directory,
                len(tokenizer.vocab_mismatches),
                "; ".join(tokenizer.vocab_mismatches[:3]),
            )
        return tokenizer

    # -- tokenizing -----------------------------------------------------------------------------

    def analyse(self, artist: str, genres: str | Sequence[str], lyrics: str | None = "") -> TokenizeReport:
        """Look everything up and say what happened; raises :class:`TooManyGenresError` for too many genres."""
        if not isinstance(artist, str):
            raise TypeError(f"artist must be a string, got {type(artist).__name__}")
        genre_list = _genre_list(genres)
        lyrics = "" if lyrics is None else lyrics
        if not isinstance(lyrics, str):
            raise TypeError(f"lyrics must be a string, got {type(lyrics).__name__}")
        priors = tuple(
            _prior_labels(artist, genre_list, version, slots, has_lyrics, index)
            for index, (version, slots, has_lyrics) in enumerate(zip(self.versions, self.n_genres, self.with_lyrics))
        )
        cleaned = clean_lyrics(lyrics, self.lyric_version) if self.lyric_version else None
        return TokenizeReport(priors, cleaned, ignored_lyrics=cleaned is None and bool(lyrics.strip()))

    def __call__(
        self, artist: str, genres: str | Sequence[str], lyrics: str | None = "", return_tensors: str | None = "pt"
    ) -> TokenizerOutput:
        """HF-style call: ``{"input_ids": [row per prior]}``; rows are LongTensors (1, L) for ``"pt"``,
        numpy arrays (1, L) for ``"np"``, plain lists for ``None``. The report is ``output.report``."""
        report = self.analyse(artist, genres, lyrics)
        for message in report.messages():
            log.debug("tokenizer: %s", message)
        rows = report.input_ids
        if return_tensors == "pt":
            import torch

            input_ids: list[Any] = [torch.tensor([row], dtype=torch.long) for row in rows]
        elif return_tensors == "np":
            import numpy as np

            input_ids = [np.asarray([row], dtype=np.int64) for row in rows]
        elif return_tensors is None:
            input_ids = rows
        else:
            raise TokenizerError(f"return_tensors must be 'pt', 'np' or None, got {return_tensors!r}")
        return TokenizerOutput(input_ids, report)

    def decode(self, lyric_ids: Iterable[int] | torch.Tensor, version: str | None = None) -> str:
        """Lyric ids back to text; 0 (padding) decodes to nothing, as in the original ``textise``."""
        version = version or self.lyric_version
        if version is None:
            raise TokenizerError("this tokenizer has no lyric vocabulary (no prior reads lyrics)")
        chars = vocab.lyric_chars(version)
        ids = lyric_ids.reshape(-1).tolist() if hasattr(lyric_ids, "reshape") else list(lyric_ids)
        out = []
        for token in ids:
            if not 0 <= token <= len(chars):
                raise TokenizerError(f"lyric id {token} is outside the {version} vocabulary (0..{len(chars)})")
            if token:
                out.append(chars[token - 1])
        return "".join(out)

    @property
    def lyric_vocab_size(self) -> int | None:
        return vocab.lyric_vocab_size(self.lyric_version) if self.lyric_version else None

    def __repr__(self) -> str:
        return (
            f"JukeboxTokenizer(versions={list(self.versions)}, n_genres={list(self.n_genres)}, "
            f"with_lyrics={list(self.with_lyrics)}, lyric_version={self.lyric_version!r}, "
            f"max_n_lyric_tokens={self.max_n_lyric_tokens})"
        )


def _genre_list(genres: str | Sequence[str]) -> list[str]:
    if isinstance(genres, str):
        return [genres]
    genre_list = list(genres)
    if not all(isinstance(g, str) for g in genre_list):
        raise TypeError(f"genres must be a string or a list of strings, got {genres!r}")
    return genre_list


def _prior_labels(
    artist: str, genres: list[str], version: Version, slots: int, has_lyrics: bool, index: int
) -> PriorLabels:
    artists = vocab.artist_table(version)
    artist_key = vocab.normalise(artist, version)
    artist_id = artists.get(artist_key)
    keys = vocab.genre_keys(genres, version)  # v2: a bag of words, each looked up on its own
    if len(keys) > slots:
        what = "genre words" if version == "v2" else "genres"
        raise TooManyGenresError(
            f"{_which_priors([index])} ({version} labels) takes at most {slots} {what}; "
            f"got {len(keys)}: {', '.join(repr(k) for k in keys)}",
            keys,
            slots,
        )
    table = vocab.genre_table(version)
    found = [table.get(key) for key in keys]
    return PriorLabels(
        version=version,
        artist_key=artist_key,
        artist_id=vocab.UNKNOWN_ID if artist_id is None else artist_id,
        genre_keys=tuple(keys),
        genre_ids=tuple(vocab.UNKNOWN_ID if i is None else i for i in found) + (-1,) * (slots - len(keys)),
        unknown_artist=artist_id is None,
        unknown_genres=tuple(k for k, i in zip(keys, found) if i is None),
        has_lyrics=has_lyrics,
    )


def _compare_hf_vocab(directory: Path, tokenizer: JukeboxTokenizer) -> list[str]:
    """Entries of HF's artists/genres/lyrics JSON files that disagree with our tables (v2 keys end in ``.v2``)."""
    mismatches: list[str] = []
    for file_name, table_of in (("artists.json", vocab.artist_table), ("genres.json", vocab.genre_table)):
        path = directory / file_name
        if not path.is_file():
            continue
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TokenizerError(f"{path}: cannot read ({exc})") from None
        if not isinstance(entries, dict):
            raise TokenizerError(f"{path}: expected a JSON object {{name: id}}")
        for key, value in entries.items():
            version, name = ("v2", key[:-3]) if key.endswith(".v2") else ("v3", key)
            ours = table_of(version).get(name)
            if ours != value:
                mismatches.append(f"{file_name} {key!r}: {value} (ours: {ours})")
    lyrics_path = directory / "lyrics.json"
    if lyrics_path.is_file() and tokenizer.lyric_version == "v3":
        try:
            entries = json.loads(lyrics_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TokenizerError(f"{lyrics_path}: cannot read ({exc})") from None
        ours = {**vocab.lyric_vocab("v3"), "<unk>": 0}
        if entries != ours:
            mismatches.append(f"lyrics.json differs from the v3 lyric vocabulary ({len(entries)} entries)")
    return mismatches
