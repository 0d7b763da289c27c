"""What the model is actually conditioned on: the tokenizer's findings as a plain record.

The CLI prints the findings before sampling (``--strict`` refuses them); the record goes into the
job, the takes it makes and the export sidecar, so none of them claims an artist or genre the model
did not get. No torch here: the CLI checks this before importing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jukestudio.model.config import JukeboxConfig
    from jukestudio.model.tokenizer import TokenizeReport
    from jukestudio.project import ProjectSettings


def analyse(config: JukeboxConfig, settings: ProjectSettings) -> TokenizeReport:
    """The tokenizer's report for the project's artist, genres and lyrics (raises TooManyGenresError)."""
    from jukestudio.model.tokenizer import JukeboxTokenizer

    return JukeboxTokenizer.for_config(config).analyse(settings.artist, settings.genres, settings.lyrics)


def record(report: TokenizeReport, settings: ProjectSettings) -> dict[str, Any]:
    """JSON data: what was asked for, what the model got, and the findings in words."""
    top = report.priors[0]
    dropped = report.dropped_chars
    return {
        "artist": "unknown" if report.unknown_artist else settings.artist,
        "artist_requested": settings.artist,
        "genres": [k for k in top.genre_keys if k not in report.unknown_genres],
        "genres_requested": list(settings.genres),
        "unknown_genres": report.unknown_genres,
        "lyrics_used": report.lyrics.text if report.lyrics else "",
        "lyrics_dropped": "".join(dict.fromkeys(c for _, c in dropped)),
        "lyrics_dropped_count": len(dropped),
        "lyrics_transliterated_count": len(report.transliterated),
        "findings": report.messages(),
    }
