"""What `bench.json` says about the machine it measured: CPU, cores, threads, math libraries; and the two
helpers every measurement shares (progress lines, waiting for the GPU before reading a clock)."""

from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

import torch

from denselab.config import Runtime


def log(runtime: Runtime, message: str) -> None:
    if not runtime.quiet:
        print(f"denselab bench: {message}", file=sys.stderr, flush=True)


def sync(device: str | torch.device) -> None:
    """Wait for the device's queued work (a CUDA clock read without it times the launch, not the work)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _cpu_info() -> tuple[str | None, int | None]:
    """(CPU model name, physical cores) from /proc/cpuinfo; (platform.processor(), None) elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or None, None
    models = re.findall(r"^model name\s*:\s*(.+)$", text, flags=re.M)
    cores = set()
    for block in text.split("\n\n"):
        phys = re.search(r"^physical id\s*:\s*(\d+)", block, flags=re.M)
        core = re.search(r"^core id\s*:\s*(\d+)", block, flags=re.M)
        if phys and core:
            cores.add((phys.group(1), core.group(1)))
    return (models[0].strip() if models else platform.processor() or None), (len(cores) or None)


def machine_facts(device: str) -> dict[str, Any]:
    """CPU, cores, threads and the math libraries torch was built with (from `torch.__config__.show()`)."""
    config = torch.__config__.show()

    def find(pattern: str) -> str | None:
        m = re.search(pattern, config)
        return m.group(1).strip() if m else None

    model, physical = _cpu_info()
    return {
        "cpu_model": model,
        "cores_logical": os.cpu_count(),
        "cores_physical": physical,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch_version": torch.__version__,
        "blas": find(r"BLAS_INFO=(\w+)"),
        "blas_library": find(r"(Intel\(R\) oneAPI Math Kernel Library Version [^\n]*|OpenBLAS[^\n]*)"),
        "onednn": find(r"(Intel\(R\) MKL-DNN v[\d.]+|oneDNN v[\d.]+)"),
        "cpu_capability": find(r"CPU capability usage: (\w+)"),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if torch.device(device).type == "cuda" else None,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
    }
