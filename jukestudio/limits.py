"""Resource bounds for untrusted input, as data: every boundary checks these *before* it allocates.

One place for the numbers so they can be read, reasoned about and changed together. Each bound is
far above what a real file needs (the released 5B model sets the scale) and far below what would
exhaust a desktop machine. Validators raise typed errors that name the file and field; code past a
boundary may trust its input.
"""

from __future__ import annotations

# ---------------------------------------------------------------- model configs (config.json, hps)

MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""A config.json is a few KB; anything past this is not a config."""
MAX_CONFIG_DEPTH = 16
"""Nesting of JSON objects/lists in a config (real ones nest 3 deep)."""
MAX_WIDTH = 16384
"""hidden_size, embed_dim, conv widths (5B: 4800)."""
MAX_LAYERS = 512
"""Transformer layers (5B: 79) and residual depths per block."""
MAX_HEADS = 256
MAX_CTX = 1 << 16
"""Tokens per window (released: 8192)."""
MAX_VOCAB = 1 << 20
"""Codebook, lyric and metadata vocabularies (artists: 7898)."""
MAX_LEVELS = 8
MAX_DOWNS = 16
MAX_STRIDE = 16
MAX_SAMPLE_RATE = 384_000
MAX_SAMPLE_LENGTH = 1 << 28
"""Audio samples of one training window (released: 1,058,304)."""
MAX_MODEL_PARAMS = 20_000_000_000
"""Parameters of one component, counted on the meta device before any memory is committed (5B: 5e9)."""

# ---------------------------------------------------------------- checkpoints (pickles, zips)

MAX_PICKLE_BYTES = 256 * 1024 * 1024
"""Bytes of one pickle record (a 5B state dict's pickle is ~1 MB; tensors live outside it)."""
MAX_PICKLE_OPS = 20_000_000
"""Opcodes in one pickle: bounds the objects it can build."""
MAX_PICKLE_MEMO = 5_000_000
"""Memo entries in one pickle."""
MAX_PICKLE_DEPTH = 200
"""Nesting of containers in a checkpoint's objects (hps dicts nest 2 deep)."""
MAX_HEADER_PICKLE_BYTES = 64 * 1024
"""The legacy format's small header records (magic, protocol, sys info, storage keys list excluded)."""
MAX_TENSOR_ELEMENTS = 1 << 34
"""Elements of one tensor (16 G; the largest real weight has 40 M)."""
MAX_ZIP_MEMBERS = 100_000
"""Members of a checkpoint zip (one per storage: a 5B prior has ~2,000)."""

# ---------------------------------------------------------------- audio

MAX_PROMPT_S = 60.0
"""Seconds of a prompt file that are ever decoded and encoded (the top prior sees at most 24 s of it;
the rest only becomes the kept start of the take). Encoding costs ~40 MB per second of prompt."""
MAX_AUDIO_CHANNELS = 64

# ---------------------------------------------------------------- project, take and job files

MAX_JSON_BYTES = 16 * 1024 * 1024
"""project.json, take.json, job.json: a few KB normally (lyrics included)."""
MAX_LYRICS_CHARS = 1_000_000
MAX_TEXT_CHARS = 10_000
"""Artist, genre, take names and notes."""
MAX_GENRES = 64
MAX_SONG_S = 3600.0
"""total_length_s, take_length_s, region and trim times (the model's timing covers 600 s)."""
MAX_TAKES = 256
MAX_SEED = 2**63 - 1
MAX_THREADS = 1024
MAX_JOB_TOKENS = 1 << 26
"""Codes per take per level a job may plan (3600 s at hop 8 is 20 M)."""
