"""One prepared GPU check: correctness and speed of sampling on CUDA, in one command, one JSON line.

    python bench/gpu_check.py [--device cuda] [--out DIR] [--bandwidth-gbs 3350] [--budget-s 420]
    python bench/gpu_check.py --device cpu --quick      # the same code on tiny sizes (the test suite runs it)

Sections (each catches its own failure and reports it in the JSON, so one problem never costs the run):

* ``dtype``: logits of fp16 / bf16 vs fp32 on the real-size 1b_lyrics top prior and an upsampler
  (random weights): max |Δ| and mean KL of the next-token distributions, teacher-forced along one
  fp32-sampled run;
* ``determinism``: same seed ⇒ same codes, sampled twice on the device;
* ``kill_resume``: a compose job run in a subprocess, SIGKILLed after its first windows, resumed:
  the same codes as the job run in one go;
* ``oom_retry``: a real ``torch.cuda.OutOfMemoryError`` provoked by capping the process's share of
  GPU memory, retried by the engine at a smaller batch, giving the codes of a direct run at that batch
  (on CPU: simulated by raising the error from the prior);
* ``speed``: random weights at the real sizes (1b_lyrics top, 5b_lyrics top, upsampler; built on the
  meta device and filled on the device): tokens/s at batch 1, 3, 8, eager and CUDA graph (same codes
  checked), priming tokens/s, peak memory next to the engine's estimate, transformers 4.40.2's
  ``JukeboxPrior`` on the same weights (fp32, batch 1) in the same run;
* ``decode``: VQ-VAE decoding real-time factor (real geometry);
* ``projection``: wall time of a full cascade for 1 minute of audio from the measured rates and the
  exact windows of the loop (``sample_loop.plan_level``), and the batch-1 step rate against the
  weight-bandwidth roofline (weight bytes read per step / the card's memory bandwidth).

Prints a table and, last, one JSON line (also written to ``--out``/gpu_check.json).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jukestudio.model import config as presets  # noqa: E402
from jukestudio.model.config import JukeboxConfig, JukeboxPriorConfig, JukeboxVQVAEConfig  # noqa: E402
from jukestudio.model.prior import JukeboxPrior  # noqa: E402

SR = 44100
# Memory bandwidth (GB/s) by a substring of torch.cuda.get_device_name(); first match wins.
BANDWIDTH_GBS = [
    ("H200", 4800.0),
    ("H100 NVL", 3900.0),
    ("H100 PCIe", 2000.0),
    ("H100", 3350.0),
    ("GH200", 4000.0),
    ("A100-SXM4-80GB", 2039.0),
    ("A100 80GB PCIe", 1935.0),
    ("A100", 1555.0),
    ("L40S", 864.0),
    ("L4", 300.0),
    ("A10G", 600.0),
    ("A10", 600.0),
    ("RTX 4090", 1008.0),
    ("RTX 3090", 936.0),
    ("V100", 900.0),
    ("T4", 320.0),
]
CORRECTNESS_KEYS = ("dtype", "determinism", "kill_resume", "oom_retry", "graph_same_codes")


# ---------------------------------------------------------------------- geometry


@dataclasses.dataclass(frozen=True)
class Sizes:
    quick: bool

    def shrink(self, cfg: JukeboxPriorConfig, layers: int) -> JukeboxPriorConfig:
        """The real config, or (quick) a tiny one with the same attention pattern and conditioning."""
        if not self.quick:
            return cfg
        enc = cfg.encoder_config
        if enc is not None:
            enc = dataclasses.replace(enc, hidden_size=32, num_layers=3, n_heads=2, blocks=4, n_ctx=16,
                                      nb_relevant_lyric_tokens=16)  # fmt: skip
        lyrics = 16 if cfg.nb_relevant_lyric_tokens else 0
        return dataclasses.replace(
            cfg, hidden_size=64, num_layers=layers, n_heads=2 if cfg.n_heads > 1 else 1, n_ctx=64, blocks=4,
            nb_relevant_lyric_tokens=lyrics, encoder_config=enc, res_conv_width=32, res_conv_depth=2,
            res_dilation_cycle=2, alignment_layer=None, alignment_head=None,
        )  # fmt: skip

    def priors(self) -> dict[str, tuple[JukeboxPriorConfig, int]]:
        """name -> (config, level in prior order)."""
        return {
            "1b_lyrics_top": (self.shrink(presets._top_1b_lyrics(), 16), 0),
            "5b_lyrics_top": (self.shrink(presets._top_5b(lyrics=True), 19), 0),
            "upsampler": (self.shrink(presets._upsampler(2), 3), 2),
        }

    def cascade(self, top: str = "1b_lyrics") -> JukeboxConfig:
        """A whole model's config (real, or quick: tiny priors and VQ-VAE, real hops)."""
        real = presets.preset(top)
        if not self.quick:
            return real
        layers = {"1b_lyrics": 16, "5b_lyrics": 19}[top]
        priors = [self.shrink(real.prior_configs[0], layers), *(self.shrink(c, 3) for c in real.prior_configs[1:])]
        vq = JukeboxVQVAEConfig(embed_dim=16, nb_discrete_codes=2048, res_conv_width=8, res_conv_depth=2)
        return JukeboxConfig.from_configs(priors, vq, name=f"{top}-quick", untrained=True)

    @property
    def vqvae(self) -> JukeboxVQVAEConfig:
        return JukeboxVQVAEConfig(res_conv_width=8, res_conv_depth=2) if self.quick else JukeboxVQVAEConfig()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def materialise(module: torch.nn.Module, device: torch.device, seed: int) -> torch.nn.Module:
    """A meta-built module with random weights on ``device`` (filled there: no host copy)."""
    module = module.to_empty(device=device)
    torch.manual_seed(seed)
    for name, t in [*module.named_parameters(), *module.named_buffers()]:
        if t.is_floating_point():
            if "layer_norm" in name and name.endswith("weight"):
                t.fill_(1.0)
            else:
                t.normal_(0.0, 0.02 if t.dim() < 2 else min(0.05, t.shape[-1] ** -0.5))
    if hasattr(module, "tie_weights"):
        module.tie_weights()
    return module.eval()


def build_prior(cfg: JukeboxPriorConfig, level: int, device: torch.device, seed: int = 0) -> JukeboxPrior:
    with torch.device("meta"):
        prior = JukeboxPrior(cfg, level=level)
    return materialise(prior, device, seed)


def prior_labels(prior: JukeboxPrior, n: int, device: torch.device) -> torch.Tensor:
    """Label rows (N, 4 + genres + 600 lyric characters) this prior accepts."""
    genres = [1] + [-1] * (prior.config.max_nb_genres - 1)
    lyrics = torch.randint(1, 40, (600,), generator=torch.Generator().manual_seed(1)).tolist()
    return torch.tensor([[0, 0, 0, 2, *genres, *lyrics]], device=device).repeat(n, 1)


def window_inputs(prior: JukeboxPrior, n: int, device: torch.device, context: int = 0) -> dict[str, Any]:
    """Keyword arguments of ``prior.sample`` for the first window of a 3-minute song."""
    total = 180 * SR if prior.level == 0 else 0
    metadata = prior.get_metadata(prior_labels(prior, n, device), 0, max(total, prior.sample_length))
    g = torch.Generator().manual_seed(7)
    kw: dict[str, Any] = {"metadata": metadata}
    if context:
        kw["music_tokens"] = torch.randint(0, 2048, (n, context), generator=g).to(device)
    if prior.level > 0:
        kw["music_tokens_conds"] = [torch.randint(0, 2048, (n, prior.n_ctx // 4), generator=g).to(device)]
    return kw


def device_generator(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


@contextlib.contextmanager
def step_mode(prior: JukeboxPrior, mode: str) -> Iterator[None]:
    from jukestudio.model.step_graph import step_mode as stack_mode

    if mode == "eager":
        yield
        return
    with stack_mode(prior.prior.transformer, mode):
        yield


def graph_mode(device: torch.device) -> str:
    """The graph path: a real CUDA graph on CUDA, its fixed-shape step run eagerly elsewhere."""
    return "cuda_graph" if device.type == "cuda" else "static"


# ---------------------------------------------------------------------- correctness


def forced_logits(prior: JukeboxPrior, kw: dict[str, Any], n_tokens: int, tokens: list | None) -> tuple[list, list]:
    """Log-probabilities per sampled step (and the tokens), teacher-forced along ``tokens`` if given."""
    import jukestudio.model.transformer as transformer_module

    draw = transformer_module.draw_tokens
    logps: list[torch.Tensor] = []
    drawn: list[torch.Tensor] = []

    def record(logits, params, level, generator=None):
        logps.append(torch.log_softmax(logits.float(), dim=-1))
        token = draw(logits, params, level, generator) if tokens is None else tokens[len(logps) - 1]
        drawn.append(token)
        return token

    transformer_module.draw_tokens = record
    try:
        with torch.inference_mode():
            prior.sample(1, sample_tokens=n_tokens, generator=device_generator(prior_device(prior), 3), **kw)
    finally:
        transformer_module.draw_tokens = draw
    return logps, drawn


def prior_device(prior: torch.nn.Module) -> torch.device:
    return next(prior.parameters()).device


def check_dtypes(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    n_tokens = 8 if ctx.quick else 64
    dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16}
    for name in ("1b_lyrics_top", "upsampler"):
        cfg, level = ctx.sizes.priors()[name]
        prior = build_prior(cfg, level, ctx.device, seed=1)
        kw = window_inputs(prior, 1, ctx.device)
        fp32_weights = {k: v.clone() for k, v in prior.state_dict().items()}
        ref, tokens = forced_logits(prior, kw, n_tokens, None)
        p = torch.stack(ref)
        for dname, dtype in dtypes.items():
            prior.load_state_dict(fp32_weights)
            prior.set_inference_dtype(dtype)
            got, _ = forced_logits(prior, kw, n_tokens, tokens)
            prior.set_inference_dtype(None)
            q = torch.stack(got)
            kl = float((p.exp() * (p - q)).sum(-1).mean())
            out[f"{name}_{dname}"] = {
                "max_abs_logprob_diff": float((p - q).abs().max()),
                "mean_kl_nats": kl,
                "ok": bool(torch.isfinite(q).all()) and kl < 0.05,
            }
        del prior, fp32_weights
        free(ctx.device)
    out["ok"] = all(v["ok"] for v in out.values() if isinstance(v, dict))
    return out


def check_determinism(ctx: Context) -> dict[str, Any]:
    cfg, level = ctx.sizes.priors()["1b_lyrics_top"]
    prior = build_prior(cfg, level, ctx.device, seed=2)
    if ctx.device.type == "cuda":
        prior.set_inference_dtype(torch.float16)
    kw = window_inputs(prior, 3, ctx.device)
    runs = []
    for _ in range(2):
        with torch.inference_mode():
            runs.append(prior.sample(3, sample_tokens=32, generator=device_generator(ctx.device, 11), **kw).cpu())
    same = torch.equal(runs[0], runs[1])
    del prior
    free(ctx.device)
    return {"tokens": 32, "batch": 3, "same_codes": same, "ok": same}


def kill_resume_model(quick: bool, device: torch.device) -> Any:
    """The cascade the kill/resume check samples (deterministic random weights, same in every process)."""
    from jukestudio.model.modeling import JukeboxModel
    from jukestudio.model.vqvae import JukeboxVQVAE

    sizes = Sizes(quick=True)  # small priors of the real kinds: the engine path, not the speed, is checked
    config = sizes.cascade("1b_lyrics")
    top = config.prior_configs[0]
    config.prior_configs[0] = dataclasses.replace(top, n_ctx=64, blocks=4)
    with torch.device("meta"):
        priors = [JukeboxPrior(c, level=p) for p, c in enumerate(config.prior_configs)]
        vqvae = JukeboxVQVAE(config.vqvae_config)
    priors = [materialise(p, device, seed=20 + i) for i, p in enumerate(priors)]
    return JukeboxModel(config, vqvae=materialise(vqvae, device, seed=30), priors=priors).eval()


def child_job(folder: str, device: str, quick: bool, kill_after: int | None) -> int:
    """Run (or resume) the job in ``folder`` (``--child-job``); with ``kill_after`` the process SIGKILLs
    itself at that cancel poll (the engine polls once per sampled token): a kill in mid-window."""
    from jukestudio.engine import runner
    from jukestudio.engine.progress import CancelToken

    class KillingToken(CancelToken):
        polls = 0

        def raise_if_cancelled(self) -> None:
            self.polls += 1
            if kill_after is not None and self.polls >= kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    logging.disable(logging.WARNING)
    model = kill_resume_model(quick, torch.device(device))
    runner.run_job(folder, model=model, device=device, cancel=KillingToken())
    return 0


def check_kill_resume(ctx: Context) -> dict[str, Any]:
    from jukestudio.engine import jobs, runner
    from jukestudio.engine.state import JobState
    from jukestudio.model import sample_loop
    from jukestudio.model.sampling_params import SamplingParams
    from jukestudio.project import Project, ProjectSettings

    model = kill_resume_model(ctx.quick, ctx.device)
    labels = [prior_labels(p, 1, torch.device("cpu")) for p in model.priors]
    with tempfile.TemporaryDirectory(prefix="jukestudio-gpu-check-") as tmp:
        folders = []
        for name in ("whole", "killed"):
            settings = jobs.compose_settings(
                model.config, 0.35, total_seconds=30.0, levels=(0,), device=str(ctx.device),
                params=SamplingParams(seed=9, max_batch_size=2),
            )  # fmt: skip
            project = Project.create(Path(tmp) / name, ProjectSettings(model="gpu-check"))  # the job's takes go here
            state = jobs.create_job(
                project.folder, "compose", model_name="gpu-check", config=model.config,
                codes=[torch.zeros(2, 0, dtype=torch.long) for _ in range(3)], labels=labels, settings=settings,
            )  # fmt: skip
            folders.append(state.folder)
        level = JobState.load(folders[0]).info["progress"]["levels"]["0"]
        runner.run_job(folders[0], model=model, device=ctx.device)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--device", str(ctx.device), "--child-job"]
        cmd += [str(folders[1]), *(["--quick"] if ctx.quick else [])]
        # the engine polls its cancel token once per token step (both takes in one batch) and once per window:
        # kill in the middle of the fourth window
        windows = sample_loop.plan(
            sample_loop.level_geometries(model.config), [0], settings.sample_length, [0, 0, 0]
        )[0]  # fmt: skip
        kill_at = sum(w.new_tokens + 1 for w in windows[:3]) + windows[3].new_tokens // 2
        killed = subprocess.run([*cmd, "--kill-after", str(kill_at)], env=env, timeout=600, capture_output=True)
        info = json.loads((folders[1] / "job.json").read_text())
        windows_at_kill = info["progress"]["levels"]["0"]["windows_done"]
        resumed = subprocess.run(cmd, env=env, timeout=600, capture_output=True, text=True)
        if resumed.returncode:
            raise RuntimeError(f"resume failed: {resumed.stderr[-500:]}")
        whole, again = (JobState.load(f) for f in folders)
        same = all(torch.equal(a, b) for a, b in zip(whole.codes, again.codes, strict=True))
        was_killed = killed.returncode == -signal.SIGKILL and info["status"] == "running"
        ok = same and was_killed and 0 < windows_at_kill < level["n_windows"] and again.status == "done"
        return {
            "windows": level["n_windows"],
            "killed": was_killed,
            "windows_done_at_kill": windows_at_kill,
            "same_codes": same,
            "ok": ok,
        }


def check_oom_retry(ctx: Context) -> dict[str, Any]:
    from jukestudio.engine.device import estimate_prior_memory
    from jukestudio.model.modeling import JukeboxModel

    cfg, level = ctx.sizes.priors()["1b_lyrics_top"]
    config = ctx.sizes.cascade("1b_lyrics")
    prior = build_prior(cfg, level, ctx.device, seed=4)
    if ctx.device.type == "cuda":
        prior.set_inference_dtype(torch.float16)
    model = JukeboxModel(config, vqvae=torch.nn.Identity(), priors=[prior, *[torch.nn.Identity()] * 2]).eval()
    labels = [prior_labels(prior, 1, ctx.device)] * 3
    n, steps = 8, 16
    messages: list[str] = []
    kw = dict(sample_levels=[0], sample_tokens=steps, total_length_in_seconds=180.0, on_message=messages.append)

    def run(batch: int) -> torch.Tensor:
        codes = [torch.zeros(n, 0, dtype=torch.long, device=ctx.device) for _ in range(3)]
        gen = device_generator(ctx.device, 5)
        with torch.inference_mode():
            return model._sample(codes, labels, max_batch_size=batch, generator=gen, **kw)[0].cpu()

    simulated = ctx.device.type != "cuda"
    if simulated:  # no GPU: the error is raised by the prior for batches over 2 (the engine's path is the same)
        real_sample = prior.sample

        def sample(n_samples, *args, **kwargs):
            if n_samples > 2:
                raise torch.cuda.OutOfMemoryError("simulated: CUDA out of memory")
            return real_sample(n_samples, *args, **kwargs)

        prior.sample = sample
        capped = run(n)
        del prior.sample
    else:
        n_params = sum(p.numel() for p in prior.parameters())
        estimate = estimate_prior_memory(cfg, n_params, bytes_per_value=2)
        per_take = estimate.kv_bytes_per_sample + estimate.activation_bytes_per_sample
        free(ctx.device)
        total = torch.cuda.get_device_properties(ctx.device).total_memory
        # room for about 4 takes beyond the weights: batch 8 cannot fit, the engine's halving finds one that does
        cap = torch.cuda.memory_reserved(ctx.device) + int(4.5 * per_take) + (512 << 20)
        torch.cuda.set_per_process_memory_fraction(min(0.95, cap / total), ctx.device)
        try:
            capped = run(n)
        finally:
            torch.cuda.set_per_process_memory_fraction(1.0, ctx.device)
            free(ctx.device)
    retried = [m for m in messages if "retrying" in m]
    final_batch = int(retried[-1].split(" with ")[1].split()[0]) if retried else n
    direct = run(final_batch)
    same = torch.equal(capped, direct)
    model.priors[0] = torch.nn.Identity()  # free the prior before the next section
    free(ctx.device)
    return {
        "simulated": simulated,
        "retries": len(retried),
        "final_batch": final_batch,
        "messages": retried,
        "same_codes_as_direct_run": same,
        "ok": bool(retried) and same,
    }


def free(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------- speed


def hf_prior_on(ours: JukeboxPrior, cfg: JukeboxPriorConfig, level: int) -> tuple[Any, dict[str, Any]]:
    """transformers 4.40.2's JukeboxPrior built on meta and given our tensors (no copy, same weights)."""
    from transformers.models.jukebox.configuration_jukebox import JukeboxPriorConfig as HFPriorConfig
    from transformers.models.jukebox.modeling_jukebox import JukeboxPrior as HFPrior

    data = copy.deepcopy(cfg.to_dict())
    data.pop("model_type", None)
    data["mask"] = True
    with torch.device("meta"):
        hf = HFPrior(HFPriorConfig(**data), level=level)
    result = hf.load_state_dict(ours.state_dict(), strict=False, assign=True)
    device = prior_device(ours)
    leftover = []
    for name, t in [*hf.named_parameters(), *hf.named_buffers()]:
        if t.is_meta:
            leftover.append(name)
    if leftover:  # e.g. non-persistent buffers: zeros (reported)
        hf.to_empty(device=device)  # only meta tensors are new; assigned ones keep their data
        hf.load_state_dict(ours.state_dict(), strict=False, assign=True)
    info = {"missing": result.missing_keys[:5], "unexpected": result.unexpected_keys[:5], "zeroed": leftover[:5]}
    return hf.eval(), info


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        fn()
    sync(device)
    return time.perf_counter() - start


def time_sample(prior: JukeboxPrior, n: int, kw: dict[str, Any], total: int, steps: int, device: torch.device):
    """(seconds of the steps after the first ``warm``, seconds to the first step, codes, warm)."""
    marks: dict[int, float] = {}
    warm = max(1, min(4, steps // 4))

    def on_step(i: int, n_new: int) -> None:
        if i in (1, warm) and i not in marks:
            sync(device)
            marks[i] = time.perf_counter()

    sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        codes = prior.sample(n, sample_tokens=total, generator=device_generator(device, 1), on_step=on_step, **kw)
    sync(device)
    return time.perf_counter() - marks[warm], marks[1] - start, codes, warm


def speed_case(ctx: Context, prior: JukeboxPrior, batch: int, mode: str, context: int, steps: int):
    kw = window_inputs(prior, batch, ctx.device, context)
    if ctx.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(ctx.device)
    with step_mode(prior, mode):
        seconds, first, codes, warm = time_sample(prior, batch, kw, context + steps, steps, ctx.device)
    peak = torch.cuda.max_memory_allocated(ctx.device) if ctx.device.type == "cuda" else None
    steps_per_s = (steps - warm) / seconds
    return {
        "steps_per_s": steps_per_s,
        "tokens_per_s": steps_per_s * batch,
        "prime_tokens_per_s": context * batch / first if context else None,
        "peak_bytes": peak,
    }, codes.cpu()


def _bench_level(ctx: Context, name: str) -> dict[str, Any]:
    from jukestudio.engine.device import estimate_prior_memory

    cfg, level = ctx.sizes.priors()[name]
    prior = build_prior(cfg, level, ctx.device, seed=3)
    n_params = sum(p.numel() for p in prior.parameters())
    result: dict[str, Any] = {"params": n_params, "n_ctx": cfg.n_ctx, "width": cfg.hidden_size}
    result["layers"] = cfg.num_layers
    steps = 8 if ctx.quick else 96
    hf_steps = 4 if ctx.quick else 24
    # transformers 4.40.2 on the same weights, fp32, batch 1, from position 0 (as ours right after)
    try:
        hf, info = hf_prior_on(prior, cfg, level)
        hf_kw = window_inputs(prior, 1, ctx.device)
        hf_kw["metadata"] = hf.get_metadata(prior_labels(prior, 1, ctx.device), 0, max(180 * SR, hf.sample_length), 0)
        kw = window_inputs(prior, 1, ctx.device)
        gen = device_generator(ctx.device, 1)
        hf_s = timed(lambda: hf.sample(1, sample_tokens=hf_steps, **hf_kw), ctx.device)
        ours_fp32_s = timed(lambda: prior.sample(1, sample_tokens=hf_steps, generator=gen, **kw), ctx.device)
        result["hf_fp32_tok_s_b1"] = hf_steps / hf_s
        result["ours_fp32_tok_s_b1_same_call"] = hf_steps / ours_fp32_s
        result["hf_weights"] = info
    except Exception as exc:  # the comparison is reported, never fatal
        result["hf_error"] = f"{type(exc).__name__}: {exc}"
    free(ctx.device)
    dtype = torch.float16 if ctx.device.type == "cuda" else None
    prior.set_inference_dtype(dtype)
    result["dtype"] = str(dtype or torch.float32).replace("torch.", "")
    bytes_per = 2 if dtype is not None else 4
    context = cfg.n_ctx // 2
    cases = {}
    same = True
    for batch in ctx.batches:
        for mode in ("eager", graph_mode(ctx.device)):
            if ctx.over_budget():
                cases[f"b{batch}_{mode}"] = {"skipped": "time budget"}
                continue
            try:
                figures, codes = speed_case(ctx, prior, batch, mode, context, steps)
            except torch.cuda.OutOfMemoryError as exc:
                cases[f"b{batch}_{mode}"] = {"error": f"OutOfMemoryError: {str(exc)[:200]}"}
                free(ctx.device)
                continue
            figures["estimate_bytes"] = estimate_prior_memory(cfg, n_params, bytes_per).total(batch)
            cases[f"b{batch}_{mode}"] = figures
            if mode == "eager":
                eager_codes = codes
            else:
                figures["same_codes_as_eager"] = torch.equal(codes, eager_codes)
                same = same and figures["same_codes_as_eager"]
    result["cases"] = cases
    result["graph_same_codes"] = same
    result["weight_bytes_per_step"] = weight_bytes(prior)
    b1 = [c["steps_per_s"] for k, c in cases.items() if k.startswith("b1_") and "steps_per_s" in c]
    best1 = max(b1, default=None)
    if best1 and "hf_fp32_tok_s_b1" in result:
        result["best_b1_vs_hf_fp32"] = best1 / result["hf_fp32_tok_s_b1"]
    return result


def bench_level(ctx: Context, name: str) -> dict[str, Any]:
    try:
        return _bench_level(ctx, name)
    finally:
        free(ctx.device)  # the prior (and HF's view of it) went out of scope with the call


def weight_bytes(prior: JukeboxPrior) -> int:
    """Bytes of weights one sampling step reads: the transformer matrices and the logits projection."""
    stack = prior.prior.transformer
    total = sum(p.numel() * p.element_size() for p in stack.parameters())
    head = prior.prior.fc_proj_out.weight
    return total + head.numel() * head.element_size()


def check_speed(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("1b_lyrics_top", "5b_lyrics_top", "upsampler"):
        try:
            out[name] = bench_level(ctx, name)
        except Exception as exc:
            out[name] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-800:]}
            free(ctx.device)
    out["graph_same_codes"] = all(v.get("graph_same_codes", False) for v in out.values() if isinstance(v, dict))
    out["ok"] = out["graph_same_codes"]
    ctx.speed = out
    return out


def check_decode(ctx: Context) -> dict[str, Any]:
    from jukestudio.model.vqvae import JukeboxVQVAE

    with torch.device("meta"):
        vq = JukeboxVQVAE(ctx.sizes.vqvae)
    vq = materialise(vq, ctx.device, seed=6)
    seconds = 1.0 if ctx.quick else 20.0
    out = {}
    for level, hop in ((0, 8), (2, 128)):  # bottom (full quality) and top (preview) decoders
        codes = torch.randint(0, 2048, (1, int(seconds * SR) // hop)).to(ctx.device)
        with torch.inference_mode():
            vq.decode([codes], start_level=level, end_level=level + 1)  # warm-up
            sync(ctx.device)
            start = time.perf_counter()
            audio = vq.decode([codes], start_level=level, end_level=level + 1)
            sync(ctx.device)
        wall = time.perf_counter() - start
        out[f"level{level}_rtf"] = seconds / wall  # audio seconds per wall second (> 1: faster than real time)
        out[f"level{level}_finite"] = bool(torch.isfinite(audio).all())
    ctx.decode = out
    return out


def check_projection(ctx: Context) -> dict[str, Any]:
    """A full cascade for 60 s of audio from the measured rates and the loop's exact windows."""
    from jukestudio.model import sample_loop

    speed = getattr(ctx, "speed", None)
    if not speed:
        raise RuntimeError("no speed figures to project from")
    out: dict[str, Any] = {}
    bandwidth = ctx.bandwidth_gbs
    for top in ("1b_lyrics", "5b_lyrics"):
        config = ctx.sizes.cascade(top)
        geometries = sample_loop.level_geometries(config)
        length = 60 * SR // geometries[0].raw_to_tokens * geometries[0].raw_to_tokens
        plan = sample_loop.plan(geometries, [0, 1, 2], length, [0, 0, 0])
        names = [f"{top}_top", "upsampler", "upsampler"]
        per_batch = {}
        for batch in ctx.batches:
            total_s, levels = 0.0, []
            for level, windows in plan.items():
                level_speed = speed.get(names[level], {}).get("cases", {})
                rates = [c for k, c in level_speed.items() if k.startswith(f"b{batch}_") and "steps_per_s" in c]
                if not rates:
                    raise RuntimeError(f"no measured rate for {names[level]} at batch {batch}")
                best = max(rates, key=lambda c: c["steps_per_s"])
                prime_rate = next((c["prime_tokens_per_s"] for c in rates if c.get("prime_tokens_per_s")), None)
                steps = sum(w.new_tokens for w in windows)
                primed = sum(w.context for w in windows) * batch
                seconds = steps / best["steps_per_s"] + (primed / prime_rate if prime_rate else 0.0)
                weights = speed[names[level]].get("weight_bytes_per_step")
                roof_s = steps * weights / (bandwidth * 1e9) if bandwidth and weights else None
                levels.append({"level": level, "windows": len(windows), "steps": steps, "primed_tokens": primed,
                               "seconds": seconds, "roofline_seconds": roof_s})  # fmt: skip
                total_s += seconds
            roof = [lv["roofline_seconds"] for lv in levels]
            roof_total = sum(roof) if all(r is not None for r in roof) else None
            per_batch[f"b{batch}"] = {
                "seconds": total_s,
                "minutes": total_s / 60,
                # the steps alone at the card's weight bandwidth (no priming), and measured / that
                "roofline_seconds": roof_total,
                "vs_roofline": total_s / roof_total if roof_total else None,
                "levels": levels,
            }
        out[top] = per_batch
    rooflines = {}
    for name, level in speed.items():
        if not isinstance(level, dict) or "cases" not in level:
            continue
        rates = [c["steps_per_s"] for k, c in level["cases"].items() if k.startswith("b1_") and "steps_per_s" in c]
        if rates and bandwidth:
            roof = bandwidth * 1e9 / level["weight_bytes_per_step"]
            rooflines[name] = {"roofline_steps_per_s": roof, "best_b1_steps_per_s": max(rates),
                               "fraction_of_roofline": max(rates) / roof}  # fmt: skip
    out["roofline"] = rooflines
    out["bandwidth_gbs"] = bandwidth
    return out


# ---------------------------------------------------------------------- driver


class Context:
    def __init__(self, args: argparse.Namespace) -> None:
        self.device = torch.device(args.device)
        self.quick = args.quick
        self.sizes = Sizes(args.quick)
        self.batches = [int(b) for b in (args.batches or ("1,3" if args.quick else "1,3,8")).split(",")]
        self.started = time.monotonic()
        self.budget_s = args.budget_s
        self.bandwidth_gbs = args.bandwidth_gbs or table_bandwidth(self.device)
        self.speed: dict[str, Any] | None = None
        self.decode: dict[str, Any] | None = None

    def over_budget(self) -> bool:
        return time.monotonic() - self.started > self.budget_s


def table_bandwidth(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((bw for key, bw in BANDWIDTH_GBS if key in name), None)


SECTIONS: list[tuple[str, Callable[[Context], dict[str, Any]]]] = [
    ("dtype", check_dtypes),
    ("determinism", check_determinism),
    ("kill_resume", check_kill_resume),
    ("oom_retry", check_oom_retry),
    ("speed", check_speed),
    ("decode", check_decode),
    ("projection", check_projection),
]


def run_sections(ctx: Context, only: set[str] | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, fn in SECTIONS:
        if only and name not in only:
            continue
        start = time.monotonic()
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)
        try:
            results[name] = fn(ctx)
        except Exception as exc:  # one section's failure is reported, the run goes on
            error = f"{type(exc).__name__}: {exc}"
            results[name] = {"ok": False, "error": error, "trace": traceback.format_exc()[-1500:]}
            free(ctx.device)
        results[name]["seconds"] = round(time.monotonic() - start, 2)
    return results


def environment(ctx: Context) -> dict[str, Any]:
    env = {"torch": torch.__version__, "python": platform.python_version(), "device": str(ctx.device),
           "quick": ctx.quick}  # fmt: skip
    if ctx.device.type == "cuda":
        props = torch.cuda.get_device_properties(ctx.device)
        env.update(card=torch.cuda.get_device_name(ctx.device), memory_gb=round(props.total_memory / 2**30, 1),
                   cuda=torch.version.cuda)  # fmt: skip
    else:
        env["card"] = platform.processor() or platform.machine()
    try:
        import transformers

        env["transformers"] = transformers.__version__
    except ImportError:
        env["transformers"] = None
    return env


def print_table(results: dict[str, Any]) -> None:
    print(f"{'section':14} {'ok':>5} {'s':>7}  figures")
    for name, r in results.items():
        if not isinstance(r, dict) or name in ("environment",):
            continue
        figures = ""
        if name == "dtype":
            figures = ", ".join(f"{k}: KL {v['mean_kl_nats']:.2e} max|Δ| {v['max_abs_logprob_diff']:.2e}"
                                for k, v in r.items() if isinstance(v, dict))  # fmt: skip
        elif name == "speed":
            parts = []
            for level, v in r.items():
                if isinstance(v, dict) and "cases" in v:
                    for case, c in v["cases"].items():
                        if "tokens_per_s" in c:
                            mem = f" {c['peak_bytes'] / 2**30:.1f}/{c['estimate_bytes'] / 2**30:.1f} GiB" if c[
                                "peak_bytes"] else ""  # fmt: skip
                            parts.append(f"{level} {case} {c['tokens_per_s']:.1f} tok/s{mem}")
                    if "hf_fp32_tok_s_b1" in v:
                        parts.append(f"{level} HF fp32 b1 {v['hf_fp32_tok_s_b1']:.1f} tok/s")
            figures = "\n" + "\n".join("    " + p for p in parts)
        elif name == "projection":
            figures = ", ".join(f"{top} 60 s: " + ", ".join(f"{b} {v['minutes']:.1f} min" for b, v in r[top].items())
                                for top in ("1b_lyrics", "5b_lyrics") if top in r)  # fmt: skip
        elif name == "decode":
            figures = ", ".join(f"{k} {v:.2f}" for k, v in r.items() if k.endswith("rtf"))
        elif "error" in r:
            figures = r["error"][:150]
        else:
            figures = ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("ok", "seconds", "messages", "trace"))
        ok = r.get("ok")
        print(f"{name:14} {'' if ok is None else str(ok):>5} {r.get('seconds', 0):7.1f}  {figures}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CPU smoke run; the test suite runs this)")
    parser.add_argument("--batches", help="takes sampled at once per speed case (default 1,3,8; quick 1,3)")
    parser.add_argument("--bandwidth-gbs", type=float, help="memory bandwidth of the card (default: from a table)")
    parser.add_argument("--budget-s", type=float, default=420.0, help="skip remaining speed cases after this")
    parser.add_argument("--only", help="comma-separated sections to run (default: all)")
    parser.add_argument("--out", type=Path, help="folder for gpu_check.json")
    parser.add_argument("--child-job", help=argparse.SUPPRESS)
    parser.add_argument("--kill-after", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_job:
        sys.exit(child_job(args.child_job, args.device, args.quick, args.kill_after))
    logging.disable(logging.WARNING)
    with contextlib.suppress(ImportError):
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    ctx = Context(args)
    results: dict[str, Any] = {"environment": environment(ctx)}
    results.update(run_sections(ctx, set(args.only.split(",")) if args.only else None))
    checks = {
        "dtype": results.get("dtype", {}).get("ok"),
        "determinism": results.get("determinism", {}).get("ok"),
        "kill_resume": results.get("kill_resume", {}).get("ok"),
        "oom_retry": results.get("oom_retry", {}).get("ok"),
        "graph_same_codes": results.get("speed", {}).get("graph_same_codes"),
    }
    results["correctness"] = checks
    results["correctness_ok"] = all(v is True for k, v in checks.items() if k in results or v is not None)
    results["wall_s"] = round(time.monotonic() - ctx.started, 1)
    print_table(results)
    line = json.dumps(results, default=str)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_check.json").write_text(line + "\n", encoding="utf-8")
    print(line)
    return results


if __name__ == "__main__":
    main()
