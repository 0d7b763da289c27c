"""Plain numpy measures of audio used to judge a trained model: is it pitched, rhythmic, loud enough,
and how close is a reconstruction. No torch, no Qt.

* ``spectral_flatness``: per-frame geometric / arithmetic mean of the power spectrum (white noise
  ≈ 0.5 with these frames, a pure tone ≈ 0); the median over frames with sound is reported.
* ``onset_rate``: onsets per second from half-wave-rectified log-spectral flux with an adaptive
  threshold (median + margin) and a 50 ms minimum spacing.
* ``spectral_centroid``: magnitude-weighted mean frequency (Hz) over frames with sound; with
  ``power=True`` power-weighted, which a broadband floor far below the partials (a decoder's hiss)
  does not dominate.
* ``spectral_convergence`` / ``snr_db``: reconstruction error of ``estimate`` against ``reference``.
"""

from __future__ import annotations

import numpy as np

N_FFT = 2048
HOP = 512


def _frames_power(audio: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """|STFT|^2 of a mono signal, (frames, n_fft // 2 + 1), Hann window, no padding."""
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    count = 1 + (len(x) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
    frames = x[index] * np.hanning(n_fft)[None, :]
    return np.abs(np.fft.rfft(frames, axis=1)) ** 2


def _loud(power: np.ndarray, floor_db: float = -50.0) -> np.ndarray:
    """Mask of frames within ``floor_db`` of the loudest frame (silence says nothing about pitch)."""
    energy = power.sum(axis=1)
    if energy.max() <= 0:
        return np.zeros(len(energy), dtype=bool)
    return energy >= energy.max() * 10 ** (floor_db / 10)


def spectral_flatness(audio: np.ndarray) -> float:
    """Median spectral flatness of the frames with sound (1.0 for silence: no pitch there)."""
    power = _frames_power(audio) + 1e-12
    loud = _loud(power)
    if not loud.any():
        return 1.0
    power = power[loud]
    flat = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    return float(np.median(flat))


def dc_removed_rms(audio: np.ndarray) -> float:
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    return float(np.sqrt(np.mean((x - x.mean()) ** 2))) if len(x) else 0.0


def onset_times(audio: np.ndarray, sr: int) -> np.ndarray:
    """Onset times (s): peaks of the positive log-spectral flux (normalised to its maximum) that exceed
    the median of their +-0.25 s neighbourhood by 0.1 + half the global median."""
    power = _frames_power(audio, 1024, 256)
    log_mag = np.log1p(1000.0 * np.sqrt(power))
    flux = np.maximum(0.0, np.diff(log_mag, axis=0)).sum(axis=1)
    if len(flux) < 3 or flux.max() <= 0:
        return np.zeros(0)
    flux /= flux.max()
    # Local adaptive threshold: a peak must stand out of its +-0.25 s neighbourhood and from the whole.
    half = 11
    padded = np.pad(flux, half, mode="edge")
    local = np.array([np.median(padded[i : i + 2 * half + 1]) for i in range(len(flux))])
    threshold = local + 0.1 + 0.5 * np.median(flux)
    peaks = [
        i
        for i in range(1, len(flux) - 1)
        if flux[i] >= threshold[i] and flux[i] >= flux[i - 1] and flux[i] > flux[i + 1]
    ]
    times, last = [], -1.0
    for i in peaks:
        t = (i + 1) * 256 / sr
        if t - last >= 0.05:
            times.append(t)
            last = t
    return np.asarray(times)


def onset_rate(audio: np.ndarray, sr: int) -> float:
    """Onsets per second."""
    seconds = len(np.asarray(audio).reshape(-1)) / sr
    return float(len(onset_times(audio, sr)) / seconds) if seconds > 0 else 0.0


def spectral_centroid(audio: np.ndarray, sr: int, power: bool = False) -> float:
    """Mean spectral centroid (Hz) of the frames with sound (weights: magnitudes, or powers)."""
    frames = _frames_power(audio)
    loud = _loud(frames, -40.0)
    if not loud.any():
        return 0.0
    mag = frames[loud] if power else np.sqrt(frames[loud])
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    return float(np.mean((mag * freqs[None, :]).sum(axis=1) / np.maximum(mag.sum(axis=1), 1e-12)))


def spectral_convergence(reference: np.ndarray, estimate: np.ndarray) -> float:
    """|| |S_ref| - |S_est| ||_F / || |S_ref| ||_F (0 = identical magnitudes)."""
    a = np.sqrt(_frames_power(reference))
    b = np.sqrt(_frames_power(estimate[: len(reference)]))
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-12))


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    est = np.asarray(estimate, dtype=np.float64).reshape(-1)[: len(ref)]
    noise = np.sum((ref - est) ** 2)
    return float(10 * np.log10(np.sum(ref**2) / max(noise, 1e-20)))
