"""The procedural data set ``jukestudio-tiny`` is trained on, built from nothing, reproducibly.

    python scripts/make_tiny_dataset.py OUT_DIR [--clips-per-pair 24] [--seconds 8] [--seed 1913]

Writes ``OUT_DIR/<style>-<instrument>-<n>.wav`` (44.1 kHz mono, 16 bit) and ``OUT_DIR/labels.csv``
(``file,artist,genre,split``; the last ``--valid`` clips of each pair are ``valid``), the label file
``jukestudio-cli train`` reads. Everything is synthesised
with numpy from a fixed seed, so one command rebuilds the same files on any machine: no soundfont,
no download.

Three styles (the model's genres; they differ in tempo and note density, hence onset rate):

* ``classical``: a slow chorale, four-voice block chords, one chord per beat (60-76 bpm);
* ``folk``: a dance, an eighth-note melody over a bass on the beats and a soft kick (100-120 bpm);
* ``electronic``: sixteenth-note arpeggios over a held bass, kick on the beats (120-140 bpm).

Three instruments (the model's artists; they differ in timbre and in register, hence in spectral
centroid). The label vocabulary of the Jukebox v2 tables has no instrument names, so each is tied to
an artist name of that table associated with the instrument; the model manifest lists the mapping.
Each plays in its own octave: the timbre alone (the upper harmonics) is mostly lost at the coarse
preview level of a small VQ-VAE, the register is kept (docs/tiny-model.md).

* ``johann_sebastian_bach``: an organ, few harmonics, sustained; keys from C2;
* ``eric_clapton``: a plucked string, decaying harmonics; keys from C3;
* ``jean_michel_jarre``: a bright synthesizer lead, many harmonics, slight vibrato; keys from C4.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100
STYLES = {  # genre name -> (bpm range, notes per beat)
    "classical": ((60, 76), 1),
    "folk": ((100, 120), 2),
    "electronic": ((120, 140), 4),
}
INSTRUMENTS = ("johann_sebastian_bach", "eric_clapton", "jean_michel_jarre")
LOWEST_ROOT = {"johann_sebastian_bach": 36, "eric_clapton": 48, "jean_michel_jarre": 60}  # MIDI: C2, C3, C4
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (0, 3, 0, 4), (5, 3, 0, 4))


def midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


def tone(instrument: str, freq: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """One note of ``instrument`` at ``freq`` Hz, ``seconds`` long (plus a short release)."""
    n = int((seconds + 0.05) * SR)
    t = np.arange(n) / SR
    phase0 = rng.uniform(0, 2 * np.pi)
    out = np.zeros(n)
    if instrument == "johann_sebastian_bach":  # organ: 4 harmonics, flat envelope
        partials = ((1, 1.0), (2, 0.45), (3, 0.25), (4, 0.12))
        env = np.clip(t / 0.015, 0, 1) * np.clip((seconds + 0.05 - t) / 0.05, 0, 1)
        for k, amp in partials:
            out += amp * np.sin(2 * np.pi * k * freq * t + k * phase0)
        return out * env * 0.5
    if instrument == "eric_clapton":  # plucked string: 8 harmonics decaying, higher ones faster
        for k in range(1, 9):
            tau = 0.6 / k**0.7
            out += (1.0 / k) * np.exp(-t / tau) * np.sin(2 * np.pi * k * freq * t + phase0 * k)
        env = np.clip(t / 0.003, 0, 1) * np.clip((seconds + 0.05 - t) / 0.05, 0, 1)
        return out * env * 0.6
    # synth lead: band-limited sawtooth with vibrato, up to 9 kHz
    vibrato = 1.0 + 0.004 * np.sin(2 * np.pi * 5.5 * t)
    phase = 2 * np.pi * np.cumsum(freq * vibrato) / SR + phase0
    for k in range(1, 40):
        if k * freq > 9000:
            break
        out += (0.8 / k) * np.sin(k * phase)
    env = np.clip(t / 0.01, 0, 1) * np.clip((seconds + 0.05 - t) / 0.04, 0, 1) * (0.75 + 0.25 * np.exp(-t / 0.15))
    return out * env * 0.35


def kick(rng: np.random.Generator) -> np.ndarray:
    n = int(0.18 * SR)
    t = np.arange(n) / SR
    freq = 50 + 90 * np.exp(-t / 0.03)
    return 0.7 * np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / 0.06)


def add(buffer: np.ndarray, start_s: float, sound: np.ndarray) -> None:
    start = int(start_s * SR)
    if start >= len(buffer):
        return
    end = min(len(buffer), start + len(sound))
    buffer[start:end] += sound[: end - start]


def render(style: str, instrument: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    (low, high), per_beat = STYLES[style]
    beat = 60.0 / rng.uniform(low, high)
    scale = MAJOR if rng.random() < 0.6 else MINOR
    root = LOWEST_ROOT[instrument] + int(rng.integers(0, 12))  # a key in the instrument's octave
    progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    out = np.zeros(int(seconds * SR))

    def degree(d: int, octave: int = 0) -> int:
        return root + 12 * (octave + d // 7) + scale[d % 7]

    n_beats = int(seconds / beat) + 1
    melody = int(rng.integers(7, 11))  # scale degree of the melody, around the octave above the root
    for b in range(n_beats):
        chord = progression[(b // 4) % len(progression)] if style != "classical" else progression[b % 4]
        t0 = b * beat
        if style == "classical":
            voices = (degree(chord), degree(chord + 2), degree(chord + 4), degree(chord + 7))
            for note in voices:
                add(out, t0, 0.45 * tone(instrument, midi_hz(note), beat * 0.95, rng))
            continue
        if b % 4 == 0 or style == "folk":  # bass
            length = beat * (4 if style == "electronic" else 0.9)
            add(out, t0, 0.5 * tone(instrument, midi_hz(degree(chord) - 12), length, rng))
        add(out, t0, kick(rng) * (0.8 if style == "electronic" else 0.5))
        step = beat / per_beat
        for s in range(per_beat):
            if style == "folk":
                melody = int(np.clip(melody + rng.choice((-2, -1, -1, 0, 1, 1, 2)), 4, 14))
                if rng.random() < 0.15:
                    continue  # a rest now and then
                note = degree(melody)
            else:  # arpeggio up and down the chord
                pattern = (0, 2, 4, 7, 9, 7, 4, 2)
                note = degree(chord + pattern[(b * per_beat + s) % len(pattern)])
            add(out, t0 + s * step, 0.55 * tone(instrument, midi_hz(note), step * 0.9, rng))
    out /= max(1e-6, np.abs(out).max())
    return (out * rng.uniform(0.45, 0.7)).astype(np.float32)


def build(out_dir: Path, clips_per_pair: int, seconds: float, seed: int, valid: int = 2) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for s, style in enumerate(STYLES):
        for i, instrument in enumerate(INSTRUMENTS):
            for n in range(clips_per_pair):
                rng = np.random.default_rng([seed, s, i, n])  # each clip on its own stream: order-free
                audio = render(style, instrument, seconds, rng)
                name = f"{style}-{instrument}-{n:03d}.wav"
                buffer = io.BytesIO()
                sf.write(buffer, audio, SR, subtype="PCM_16", format="WAV")
                (out_dir / name).write_bytes(buffer.getvalue())
                rows.append((name, instrument, style, "valid" if n >= clips_per_pair - valid else "train"))
    with open(out_dir / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("file", "artist", "genre", "split"))
        writer.writerows(rows)
    return len(rows)

