"""Jukebox vocabularies: the original artist/genre id tables, the lyric character vocabularies, picker search.

Two label versions exist (``jukebox/data/artist_genre_processor.py`` in openai/jukebox):

* **v2** (5b, 5b_lyrics top priors and every upsampler): names are normalised by :func:`norm`
  (lower case, anything outside ``[a-z0-9]`` -> ``_``, runs of ``_`` collapsed, ends stripped).
* **v3** (1b_lyrics top prior only): names are only lower-cased; accents, spaces, ``&`` and even invisible
  U+200E / U+200F marks are part of a name (``jazz`` = 230 and ``jazz\\u200e`` = 547 are two genres).

The tables are read exactly like the original: ``line.strip().split(';')``, name lower-cased, later
duplicates win (``speaker`` -> 7896, not 3675), several names may share an id (``unknown``, ``various``
and the empty name are all 0). Unknown names map to id 0; callers report them.

Lyric vocabularies (``jukebox/data/text_processor.py``): one id per character, 1-based, 0 = padding /
unknown (decodes to ``''``). v2 has 80 ids (with ``+``), v3 has 79 ("in v3 we missed +").
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Literal, NamedTuple

from anyascii import anyascii

from jukestudio.resources_path import resource

Version = Literal["v2", "v3"]
VERSIONS: tuple[Version, ...] = ("v2", "v3")
UNKNOWN_ID = 0

_LYRIC_CHARS: dict[str, str] = {
    "v2": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;!?-+'\"()[] \t\n",
    "v3": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;!?-'\"()[] \t\n",
}

_ACCEPTED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_UNDERSCORES = re.compile(r"_+")


class VocabError(ValueError):
    """A vocabulary file that cannot be read, or an unknown vocabulary version."""


def check_version(version: str) -> Version:
    if version not in VERSIONS:
        raise VocabError(f"unknown label version {version!r}; known: {', '.join(VERSIONS)}")
    return version  # type: ignore[return-value]


def norm(name: str) -> str:
    """The original v2 normalisation: ``"Céline Dion"`` -> ``"c_line_dion"``, ``"R.E.M."`` -> ``"r_e_m"``."""
    text = "".join(c if c in _ACCEPTED else "_" for c in name.lower())
    return _UNDERSCORES.sub("_", text).strip("_")


def normalise(name: str, version: str) -> str:
    """The key a name is looked up with: v2 :func:`norm`, v3 ``lower()`` (nothing else)."""
    return norm(name) if check_version(version) == "v2" else name.lower()


def genre_keys(genres: Sequence[str], version: str) -> list[str]:
    """The keys genres are looked up with: v2 a bag of words (``"Country Rock"`` -> country, rock),
    v3 each whole genre lower-cased."""
    if check_version(version) == "v2":
        return [word for genre in genres for word in norm(genre).split("_")]
    return [genre.lower() for genre in genres]


# ---------------------------------------------------------------------------------------------
# Id tables


@dataclass(frozen=True)
class IdTable:
    """One ``{name: id}`` table as the original loads it."""

    version: Version
    kind: Literal["artist", "genre"]
    file_name: str
    ids: Mapping[str, int]

    @property
    def size(self) -> int:
        """Largest id + 1 (the model's embedding may have more rows: v2 artists 4109 here, 4111 rows)."""
        return max(self.ids.values()) + 1

    def get(self, key: str) -> int | None:
        """The id of an already normalised key, or None."""
        return self.ids.get(key)

    def reachable_names(self) -> list[str]:
        """Names a user can type to get their id, sorted.

        Not every key is reachable in v2: 11 artist names end in ``_`` (``r_e_m_``, ``beyonc_``) but
        :func:`norm` strips it, so the original can never look them up; the empty name is no choice either.
        """
        return sorted(k for k, i in self.ids.items() if k.strip() and self.get(normalise(k, self.version)) == i)


def _read_table(version: Version, kind: Literal["artist", "genre"]) -> IdTable:
    file_name = f"{version}_{kind}_ids.txt"
    node = resource("vocab", file_name)
    ids: dict[str, int] = {}
    try:
        # Text mode splits lines on \n, \r and \r\n only, like the original's ``for line in f``.
        with node.open("r", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                parts = line.strip().split(";")
                if len(parts) != 2 or not parts[1].strip().lstrip("-").isdigit():
                    raise VocabError(f"{file_name}, line {number}: expected 'name;id', got {line.rstrip()!r}")
                ids[parts[0].lower()] = int(parts[1])  # later duplicates win, as in the original
    except (OSError, UnicodeDecodeError) as exc:
        raise VocabError(f"cannot read the {version} {kind} table {file_name}: {exc}") from exc
    if not ids:
        raise VocabError(f"{file_name} is empty")
    return IdTable(version, kind, file_name, MappingProxyType(ids))


@cache
def artist_table(version: str) -> IdTable:
    return _read_table(check_version(version), "artist")


@cache
def genre_table(version: str) -> IdTable:
    return _read_table(check_version(version), "genre")


def artist_names(version: str) -> list[str]:
    """Artist names (as looked up) that map to their id, sorted; for pickers."""
    return list(_index("artist", check_version(version)).names)


def genre_names(version: str) -> list[str]:
    """Genre names (as looked up) that map to their id, sorted. v2 genres are single words."""
    return list(_index("genre", check_version(version)).names)


def visible_name(name: str) -> str:
    """A name for display: invisible format marks and edge spaces made visible (``jazz‹U+200E›``)."""
    shown = "".join(f"‹U+{ord(c):04X}›" if unicodedata.category(c) == "Cf" else c for c in name)
    stripped = shown.strip(" ")
    if stripped != shown:
        lead = len(shown) - len(shown.lstrip(" "))
        trail = len(shown) - len(shown.rstrip(" "))
        shown = "␣" * lead + stripped + "␣" * trail
    return shown


# ---------------------------------------------------------------------------------------------
# Lyric character vocabularies


@cache
def lyric_vocab(version: str) -> Mapping[str, int]:
    """``{char: id}`` (ids from 1; 0 is padding / unknown and has no character)."""
    chars = _LYRIC_CHARS[check_version(version)]
    return MappingProxyType({c: i + 1 for i, c in enumerate(chars)})


def lyric_chars(version: str) -> str:
    """The characters of a lyric vocabulary in id order (id = index + 1)."""
    return _LYRIC_CHARS[check_version(version)]


def lyric_vocab_size(version: str) -> int:
    """80 for v2, 79 for v3 (the model's ``lyric_vocab_size``, padding id included)."""
    return len(_LYRIC_CHARS[check_version(version)]) + 1


def lyric_version_for_size(size: int) -> Version:
    """Which lyric vocabulary a model with ``lyric_vocab_size == size`` was trained with."""
    for version in VERSIONS:
        if lyric_vocab_size(version) == size:
            return version
    raise VocabError(f"no lyric vocabulary has {size} ids (v2 has 80, v3 has 79)")


# ---------------------------------------------------------------------------------------------
# Picker search


class VocabMatch(NamedTuple):
    """A search hit: ``name`` is the exact key (pass it back as the artist/genre), ``id`` its id."""

    name: str
    id: int


@dataclass(frozen=True)
class _Index:
    names: tuple[str, ...]  # reachable names, sorted
    ids: tuple[int, ...]
    folded: tuple[str, ...]  # accent-, case- and punctuation-free, words separated by one space


_NON_WORD = re.compile(r"[^a-z0-9]+")


def _fold(text: str, version: Version) -> str:
    """Matching form: ASCII, lower case, words separated by single spaces (``"Céline  Dion"`` -> ``celine dion``).

    v2 names were normalised without transliteration (``c_line_dion``), so a v2 query is normalised the
    same way first: the folded query then lines up with the folded names.
    """
    if version == "v2":
        return norm(text).replace("_", " ")
    visible = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return _NON_WORD.sub(" ", anyascii(visible).lower()).strip()


@cache
def _index(kind: str, version: Version) -> _Index:
    table = artist_table(version) if kind == "artist" else genre_table(version)
    names = tuple(table.reachable_names())
    return _Index(names, tuple(table.ids[n] for n in names), tuple(_fold(n, version) for n in names))


def _search(kind: str, query: str, version: str, limit: int) -> list[VocabMatch]:
    version = check_version(version)
    index = _index(kind, version)
    if limit <= 0:
        return []
    key, folded_query = normalise(query, version), _fold(query, version)
    if not folded_query and not key:
        return [VocabMatch(n, i) for n, i in zip(index.names[:limit], index.ids[:limit])]

    # Tiers: exact > exact ignoring case/accents/marks > prefix > word prefix > substring > fuzzy.
    ranked: list[tuple[int, int, str, int]] = []  # (tier, length, name, id)
    rest: list[int] = []
    for pos, (name, folded) in enumerate(zip(index.names, index.folded)):
        if name == key:
            tier = 0
        elif not folded_query:
            rest.append(pos)
            continue
        elif folded == folded_query:
            tier = 1
        elif folded.startswith(folded_query):
            tier = 2
        elif f" {folded_query}" in f" {folded}":
            tier = 3
        elif folded_query in folded:
            tier = 4
        else:
            rest.append(pos)
            continue
        ranked.append((tier, len(folded), name, index.ids[pos]))
    ranked.sort()
    hits = [VocabMatch(name, id_) for _, _, name, id_ in ranked[:limit]]
    if len(hits) < limit and folded_query:
        hits += _fuzzy(index, rest, folded_query, limit - len(hits))
    return hits


def _fuzzy(index: _Index, candidates: list[int], folded_query: str, limit: int) -> list[VocabMatch]:
    """difflib similarity (the ``get_close_matches`` filters and 0.6 cutoff), best first."""
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(folded_query)
    scored: list[tuple[float, str, int]] = []
    for pos in candidates:
        matcher.set_seq1(index.folded[pos])
        if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6:
            ratio = matcher.ratio()
            if ratio >= 0.6:
                scored.append((-ratio, index.names[pos], index.ids[pos]))
    scored.sort()
    return [VocabMatch(name, id_) for _, name, id_ in scored[:limit]]


def search_artists(query: str, version: str, limit: int = 50) -> list[VocabMatch]:
    """Artists matching ``query`` for a picker, best first (exact > prefix > word prefix > substring > fuzzy).

    The query is normalised like a lookup of that version, and compared without case, accents and
    punctuation, so "celine" finds ``céline dion`` (v3) and "Beyonce" finds ``beyonc`` (v2). An empty
    query lists the first ``limit`` names alphabetically.
    """
    return _search("artist", query, version, limit)


def search_genres(query: str, version: str, limit: int = 50) -> list[VocabMatch]:
    """Genres matching ``query``, ranked like :func:`search_artists`."""
    return _search("genre", query, version, limit)
