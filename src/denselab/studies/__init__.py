"""The four studies. Each module exposes `Config` (frozen dataclass, defaults = the full preset),
`PRESETS` (field overrides per preset, as data) and `run(config, out_dir, runtime) -> summary`, and may expose
`validate(config)`, which the CLI calls before it creates or touches `--out`.

| command            | module                      | assignment problem |
|--------------------|-----------------------------|--------------------|
| `denselab mnist`   | `denselab.studies.mnist`    | 1: MNIST introspection |
| `denselab denoise` | `denselab.studies.denoise`  | 2: speech denoising |
| `denselab optim`   | `denselab.studies.optim`    | 3: init x activation x optimiser |
| `denselab dropout` | `denselab.studies.dropout`  | 4: dropout |
"""

from __future__ import annotations

import importlib
from types import ModuleType

# command name -> module; `denselab all` runs them in this order into OUT/<command>/
STUDIES: dict[str, str] = {
    "mnist": "denselab.studies.mnist",
    "denoise": "denselab.studies.denoise",
    "optim": "denselab.studies.optim",
    "dropout": "denselab.studies.dropout",
}


def load_study(name: str) -> ModuleType | None:
    """The study module, or None while it is not built yet."""
    try:
        module = importlib.import_module(STUDIES[name])
    except ModuleNotFoundError as e:
        if e.name == STUDIES[name]:
            return None
        raise
    return module if hasattr(module, "run") else None
