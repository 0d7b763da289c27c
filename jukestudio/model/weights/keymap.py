"""Original OpenAI Jukebox state-dict names ↔ Hugging Face (= our) names, as data tables.

Each rule is a pair of templates ``(original, hf)`` read in both directions. Template tokens:

* ``{i}`` (any lower-case name): a decimal index. On the HF side an index may be an affine
  expression of one original index (``{i*2+1}``), which is inverted when mapping back.
* ``{P}``: the leaf ``weight`` / ``bias`` of a torch module, the same on both sides.
* ``{W}``: the leaf of OpenAI's ``Conv1D``: ``w`` / ``b`` in the original, ``weight`` / ``bias`` in HF.
  Only the trailing leaf is renamed (HF's converter did ``replace("b", "bias")`` on the whole key).
* ``{B}``: ``blocks`` or ``model``: the conditioner's ``Resnet1D`` is a ModuleList named ``blocks``
  when it was built with gradient checkpointing (the released upsamplers), ``model`` otherwise.

An index that exists only on the original side (the encoder's ``proj_out`` sits at
``model.{down_t}``) is filled from a context function when mapping back.
Source: ``convert_jukebox.py`` of transformers 4.40.2 (see shared/reference/hf-jukebox.md §11).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_LEAF = {"P": ("(weight|bias)", "(weight|bias)"), "W": ("(w|b)", "(weight|bias)"), "B": ("(blocks|model)", None)}
_W_TO_HF = {"w": "weight", "b": "bias"}
_W_TO_ORIG = {v: k for k, v in _W_TO_HF.items()}
_TOKEN = re.compile(r"\{([a-zA-Z_]+)(?:\*(\d+))?(?:([+-])(\d+))?\}")

Context = Callable[[str, Mapping[str, int]], int]


@dataclass(frozen=True)
class _Slot:
    name: str
    scale: int = 1
    shift: int = 0


def _compile(template: str, side: int) -> tuple[re.Pattern[str], list[_Slot]]:
    """Regex for one side of a rule (0 = original, 1 = HF) and its slots in order."""
    parts, slots, pos = [], [], 0
    for match in _TOKEN.finditer(template):
        parts.append(re.escape(template[pos : match.start()]))
        name, scale, sign, shift = match.groups()
        if name in _LEAF:
            parts.append(_LEAF[name][side] or "")
        else:
            parts.append(r"(\d+)")
        slots.append(_Slot(name, int(scale or 1), int(shift or 0) * (-1 if sign == "-" else 1)))
        pos = match.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts)), slots


def _render(template: str, values: Mapping[str, Any], side: int) -> str:
    def one(match: re.Match[str]) -> str:
        name, scale, sign, shift = match.groups()
        if name == "W":
            return values["W"] if side == 0 else _W_TO_HF[values["W"]]
        if name in _LEAF:
            return str(values[name])
        value = values[name] * int(scale or 1) + int(shift or 0) * (-1 if sign == "-" else 1)
        return str(value)

    return _TOKEN.sub(one, template)


class Rule:
    """One ``(original, hf)`` template pair."""

    def __init__(self, original: str, hf: str, defaults: Mapping[str, str] | None = None) -> None:
        self.original, self.hf = original, hf
        self._orig_re, self._orig_slots = _compile(original, 0)
        self._hf_re, self._hf_slots = _compile(hf, 1)
        self._defaults = dict(defaults or {"B": "blocks"})

    def to_hf(self, key: str) -> str | None:
        match = self._orig_re.fullmatch(key)
        if match is None:
            return None
        values: dict[str, Any] = {}
        for slot, text in zip(self._orig_slots, match.groups()):
            values[slot.name] = text if slot.name in _LEAF else int(text)
        return _render(self.hf, values, 1)

    def to_original(self, key: str, context: Context | None = None) -> str | None:
        match = self._hf_re.fullmatch(key)
        if match is None:
            return None
        values: dict[str, Any] = dict(self._defaults)
        slots = [s for s in self._hf_slots if not (s.name in _LEAF and _LEAF[s.name][1] is None)]
        for slot, text in zip(slots, match.groups()):
            if slot.name == "W":
                values["W"] = _W_TO_ORIG[text]
            elif slot.name in _LEAF:
                values[slot.name] = text
            else:
                number = int(text) - slot.shift
                if number % slot.scale or number < 0:
                    return None  # e.g. an odd index where this rule wants an even one
                number //= slot.scale
                if values.get(slot.name, number) != number:
                    return None
                values[slot.name] = number
        for slot in self._orig_slots:
            if slot.name not in values:
                if context is None:
                    raise KeyError(f"mapping {key!r} back needs the value of {slot.name!r}")
                values[slot.name] = context(slot.name, values)
        return _render(self.original, values, 0)


class KeyMap:
    """An ordered rule table: the first rule that matches wins."""

    def __init__(self, rules: Iterable[tuple[str, str]]) -> None:
        self.rules = [Rule(orig, hf) for orig, hf in rules]

    def to_hf(self, key: str) -> str | None:
        for rule in self.rules:
            mapped = rule.to_hf(key)
            if mapped is not None:
                return mapped
        return None

    def to_original(self, key: str, context: Context | None = None) -> str | None:
        for rule in self.rules:
            mapped = rule.to_original(key, context)
            if mapped is not None:
                return mapped
        return None


def _resnet_rules(orig_prefix: str, hf_prefix: str, inner: str = "model") -> list[tuple[str, str]]:
    """A Resnet1D's two convs: original ``.model.{1,3}`` ↔ HF ``conv1d_{1,2}``."""
    return [
        (f"{orig_prefix}.{inner}.{{d}}.model.1.{{P}}", f"{hf_prefix}.resnet_block.{{d}}.conv1d_1.{{P}}"),
        (f"{orig_prefix}.{inner}.{{d}}.model.3.{{P}}", f"{hf_prefix}.resnet_block.{{d}}.conv1d_2.{{P}}"),
    ]


VQVAE_RULES: list[tuple[str, str]] = [
    ("encoders.{e}.level_blocks.{l}.model.{i}.0.{P}", "encoders.{e}.level_blocks.{l}.downsample_block.{i*2}.{P}"),
    *_resnet_rules(
        "encoders.{e}.level_blocks.{l}.model.{i}.1", "encoders.{e}.level_blocks.{l}.downsample_block.{i*2+1}"
    ),
    ("encoders.{e}.level_blocks.{l}.model.{t}.{P}", "encoders.{e}.level_blocks.{l}.proj_out.{P}"),  # t = down_t
    ("decoders.{e}.level_blocks.{l}.model.0.{P}", "decoders.{e}.level_blocks.{l}.proj_in.{P}"),
    *_resnet_rules("decoders.{e}.level_blocks.{l}.model.{i}.0", "decoders.{e}.level_blocks.{l}.upsample_block.{i*2-2}"),
    ("decoders.{e}.level_blocks.{l}.model.{i}.1.{P}", "decoders.{e}.level_blocks.{l}.upsample_block.{i*2-1}.{P}"),
    ("decoders.{e}.out.{P}", "decoders.{e}.out.{P}"),
    ("bottleneck.level_blocks.{l}.k", "bottleneck.level_blocks.{l}.codebook"),
]


def _transformer_rules(orig: str, hf: str) -> list[tuple[str, str]]:
    block = "transformer._attn_mods.{d}"
    rules = [
        (f"{orig}.{block}.attn.{c}.{{W}}", f"{hf}.{block}.attn.{c}.{{W}}") for c in ("c_attn", "c_enc_kv", "c_proj")
    ]
    rules += [(f"{orig}.{block}.mlp.{c}.{{W}}", f"{hf}.{block}.mlp.{c}.{{W}}") for c in ("c_fc", "c_proj")]
    rules += [(f"{orig}.{block}.ln_{n}.{{P}}", f"{hf}.{block}.layer_norm_{n}.{{P}}") for n in (0, 1)]
    rules += [
        (f"{orig}.x_emb.weight", f"{hf}.embed_tokens.weight"),
        (f"{orig}.pos_emb.pos_emb", f"{hf}.pos_emb.pos_emb"),
        (f"{orig}.start_token", f"{hf}.start_token"),
    ]
    return rules


PRIOR_RULES: list[tuple[str, str]] = [
    # labels: artist/genre tables lose their inner ``.emb``, the three timing tables keep it
    ("y_emb.bow_genre_emb.emb.weight", "metadata_embedding.bow_genre_emb.weight"),
    ("y_emb.artist_emb.emb.weight", "metadata_embedding.artist_emb.weight"),
    *[
        (f"y_emb.{t}_emb.emb.weight", f"metadata_embedding.{t}_emb.emb.weight")
        for t in ("total_length", "absolute_pos", "relative_pos")
    ],
    # the music (or lyrics + music) transformer
    *_transformer_rules("prior", "prior"),
    ("prior.x_out.weight", "prior.fc_proj_out.weight"),
    # the separate lyric encoder of 5b_lyrics
    *_transformer_rules("prime_prior", "encoder"),
    ("prime_state_proj.{W}", "encoder.proj_in.{W}"),
    ("prime_state_ln.{P}", "encoder.final_layer_norm.{P}"),
    ("prime_x_out.weight", "encoder.lm_head.weight"),
    # the upsamplers' conditioner on the level above
    ("conditioner_blocks.0.x_emb.weight", "conditioner_blocks.embed_tokens.weight"),
    ("conditioner_blocks.0.ln.{P}", "conditioner_blocks.layer_norm.{P}"),
    ("conditioner_blocks.0.cond.model.0.{P}", "conditioner_blocks.upsampler.proj_in.{P}"),
    *_resnet_rules(
        "conditioner_blocks.0.cond.model.{i}.0", "conditioner_blocks.upsampler.upsample_block.{i*2-2}", inner="{B}"
    ),
    ("conditioner_blocks.0.cond.model.{i}.1.{P}", "conditioner_blocks.upsampler.upsample_block.{i*2-1}.{P}"),
]

VQVAE_KEYMAP = KeyMap(VQVAE_RULES)
PRIOR_KEYMAP = KeyMap(PRIOR_RULES)


def keymap_for(component: str) -> KeyMap:
    """``vqvae`` or a prior component (``prior_0`` … ``prior_2``)."""
    return VQVAE_KEYMAP if component == "vqvae" else PRIOR_KEYMAP


def original_to_hf(state: Mapping[str, Any], keymap: KeyMap) -> tuple[dict[str, Any], list[str], dict[str, list[str]]]:
    """Rename an original state dict. Returns (renamed, unrecognised keys, HF keys hit by several keys)."""
    renamed: dict[str, Any] = {}
    sources: dict[str, list[str]] = {}
    unknown: list[str] = []
    for key, value in state.items():
        plain = key[len("module.") :] if key.startswith("module.") else key  # DDP wrapper
        hf = keymap.to_hf(plain)
        if hf is None:
            unknown.append(key)
            continue
        sources.setdefault(hf, []).append(key)
        renamed[hf] = value
    clashes = {hf: keys for hf, keys in sources.items() if len(keys) > 1}
    return renamed, unknown, clashes
