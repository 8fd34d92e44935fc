"""CPU seconds of one forward + backward step of G same-shaped nets: the stacked-weight `baddbmm` code of
`denselab.training.batched` against `torch.func.vmap` over `functional_call` (docs/BENCHMARKS.md, batched
runs).

    python benchmarks/batched_vs_vmap.py [--runs 20] [--width 512] [--batch 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from torch.func import functional_call, stack_module_state, vmap

from denselab.models.mlp import build_mlp
from denselab.training.batched import Member, RunStack


def best_cpu_seconds(step, reps: int = 3, inner: int = 3) -> float:
    step()  # warm-up
    best = float("inf")
    for _ in range(reps):
        t0 = time.process_time()
        for _ in range(inner):
            step()
        best = min(best, (time.process_time() - t0) / inner)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g, b = args.runs, args.batch
    widths = (784,) + (args.width,) * 5 + (10,)
    x, y = torch.randn(g, b, 784), torch.randint(0, 10, (g, b))

    params, buffers = stack_module_state([build_mlp(widths, "relu", "he") for _ in range(g)])
    base = copy.deepcopy(build_mlp(widths, "relu", "he")).to("meta")

    def loss_one(p, bufs, xi, yi):
        return torch.nn.functional.cross_entropy(functional_call(base, (p, bufs), (xi,)), yi)

    def step_vmap() -> None:
        for p in params.values():
            p.grad = None
        vmap(loss_one)(params, buffers, x, y).sum().backward()

    stack = RunStack([Member("relu", "he", 0.01, (0.0,) * 6, "sgd", 0.1, i) for i in range(g)], widths, "cpu")

    def step_batched() -> None:
        for p in stack.w + stack.b:
            p.grad = None
        logits = stack.forward(x, train=True)
        torch.nn.functional.cross_entropy(
            logits.reshape(-1, 10), y.reshape(-1), reduction="none"
        ).sum().backward()

    for name, step in (("vmap", step_vmap), ("baddbmm", step_batched)) * 2:
        print(
            f"{name:8s} {1e3 * best_cpu_seconds(step):6.0f} ms CPU per step ({g} runs, {widths}, batch {b}, "
            f"{args.threads} thread(s))",
            flush=True,
        )


if __name__ == "__main__":
    main()
