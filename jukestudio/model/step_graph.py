"""The per-token sampling step with static buffers, captured once per window shape as a CUDA graph.

A sampled token costs one pass through every layer: on a GPU at small batches that is hundreds of
small kernels whose launch overhead (Python, dispatcher, driver) outweighs their work. With the static
KV cache every shape of the step is fixed for a window shape, and ``attend_static`` takes the position
as a tensor, so the whole step (all layers, every attention kind) is recorded once as a
``torch.cuda.CUDAGraph`` and replayed per token: the input embedding is copied into a static buffer,
the position into a 0-dim tensor, the graph replayed, its static output read.

Modes (``JukeboxLayerStack.step_mode``): "eager" (``step`` with an int position, reading the cache up
to it), "static" (the graph's fixed-shape step run eagerly: how the CPU tests check it gives the same
codes) and "cuda_graph". A capture that fails for any reason other than out-of-memory logs one warning
and the step runs eagerly (static) from then on; out-of-memory goes to the engine's batch retry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

logger = logging.getLogger(__name__)

MODES = ("eager", "static", "cuda_graph")


class StaticStep:
    """The step ``(x, t) -> h`` of one window shape: static input/position/output, optionally a graph."""

    def __init__(self, stack: Any, caches: list, batch: int, device: torch.device, use_graph: bool) -> None:
        self.stack, self.caches, self.batch = stack, caches, batch
        self.plan = stack.step_plan()  # creates the step's 0-dim constants now, outside any capture
        # A graph reads tensors by address: hold the constants it will read, in case a later step plan
        # (another window shape) replaces the stack's attributes and would free them.
        self.constants = [stack._gelu_k, *(entry[0].step_scale for entry in self.plan)]
        self.use_graph = use_graph
        self.t = torch.zeros((), dtype=torch.long, device=device)
        self.x: torch.Tensor | None = None
        self.graph: Any = None
        self.out: torch.Tensor | None = None
        self.replays = 0

    def __call__(self, x: torch.Tensor, t: int) -> torch.Tensor:
        if self.x is None:
            self.x = torch.empty_like(x)
        self.x.copy_(x)
        self.t.fill_(t)
        if self.use_graph:
            try:
                if self.graph is None:
                    self._capture()
                self.graph.replay()
                self.replays += 1
                return self.out
            except torch.cuda.OutOfMemoryError:
                raise
            except Exception as exc:  # no CUDA, an op that cannot be captured, a driver problem
                logger.warning(
                    "capturing the sampling step as a CUDA graph failed (%s: %s); sampling eagerly",
                    type(exc).__name__,
                    exc,
                )
                self.use_graph, self.graph, self.out = False, None, None
        return self.stack.step(self.x, self.t, self.caches, self.plan)

    def _capture(self) -> None:
        # Warm up on a side stream (as torch.cuda.graphs asks); the warm-up computes the step at this
        # very position, so the key/value it writes are the ones the replay writes again.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.stack.step(self.x, self.t, self.caches, self.plan)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = self.stack.step(self.x, self.t, self.caches, self.plan)
        self.graph, self.out = graph, out


@contextmanager
def step_mode(stack: Any, mode: str) -> Iterator[None]:
    """While inside, ``stack`` samples with the given step mode; its kept caches/graphs are freed after."""
    if mode not in MODES:
        raise ValueError(f"unknown step mode {mode!r}; known: {', '.join(MODES)}")
    before = stack.step_mode
    stack.step_mode = mode
    try:
        yield
    finally:
        stack.step_mode = before
        stack.release_sessions()
