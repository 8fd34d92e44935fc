"""denselab: four studies of fully connected networks, ending in one report.

import denselab
summary = denselab.run("mnist", preset="quick", out="runs/m")   # a study; its summary.json as a dict
html = denselab.report("runs/m")                                 # the report of a results folder
den = denselab.Denoiser.load("runs/d/model.pt")                  # a trained denoiser
clean = den.apply(samples, sample_rate)                          # numpy in, numpy out
"""

from __future__ import annotations

from typing import Any

from denselab.version import __version__

__all__ = ["Denoiser", "DenselabError", "__version__", "report", "run"]


def __getattr__(name: str) -> Any:
    # imported on first use: `import denselab` (and `denselab --help`) stays fast, torch loads when needed
    if name in ("run", "report"):
        from denselab import api

        return getattr(api, name)
    if name == "Denoiser":
        from denselab.studies.denoise.model import Denoiser

        return Denoiser
    if name == "DenselabError":
        from denselab.errors import DenselabError

        return DenselabError
    raise AttributeError(f"module 'denselab' has no attribute {name!r}")
