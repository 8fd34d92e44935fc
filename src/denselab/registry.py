"""The one table of studies. The command line, `denselab all`, the report and the recorded sources all
read it: a new study is a module (see `docs/ARCHITECTURE.md`) and one row here.

Each study module exposes `Config` (frozen dataclass, defaults = the full preset), `PRESETS` (field overrides
per preset, as data), `PRESET_HELP` (what each preset sets, one line each), `validate(config)` (a one-line
DenselabError for an option value that cannot work), `check_inputs(config, data_dir)` (the same for a
missing or unreadable file, folder or data set; writes nothing) and `run(config, out_dir, runtime)`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from denselab.config import Runtime, field_docs
from denselab.data import audio, speech_metrics
from denselab.models import mlp
from denselab.studies import denoise, mnist
from denselab.studies.denoise import augment as denoise_augment
from denselab.studies.denoise import data as denoise_data
from denselab.studies.denoise import evaluate as denoise_evaluate
from denselab.studies.denoise import model as denoise_model
from denselab.studies.denoise import outputs as denoise_outputs
from denselab.studies.denoise import train as denoise_train
from denselab.studies.mnist import introspect as mnist_introspect
from denselab.studies.mnist import settings as mnist_settings
from denselab.studies.mnist import train as mnist_train
from denselab.studies.sweeps import comparison, dropout, jobs, optim, optim_summary, sgd_map
from denselab.training import batched, loop, stack


@dataclass(frozen=True)
class Study:
    """One study: the module that runs it and the command that runs it."""

    name: str
    """Its folder under `denselab all`'s OUT, and the name `denselab.run` takes."""
    command: str
    """The command line that runs it (`denselab <command>`), also recorded in config.json."""
    module: ModuleType
    """Config, PRESETS, PRESET_HELP, validate, check_inputs, run."""
    help: str
    """The command's one-line --help."""
    recorded: tuple[ModuleType, ...]
    """Modules whose functions go to the study's sources.json when it starts (the code the report shows)."""
    jobs: bool = False
    """Its training runs are independent jobs: it takes --executor / --ray-address / --threads-per-job."""

    @property
    def config_class(self) -> type:
        return self.module.Config

    @property
    def presets(self) -> dict[str, dict[str, Any]]:
        return self.module.PRESETS

    def config(self, preset: str, overrides: dict[str, Any] | None = None) -> Any:
        """The validated config: `preset` with `overrides` on top."""
        from denselab.config import resolve

        config = resolve(self.config_class, self.presets, preset, overrides)
        self.module.validate(config)
        return config

    def check_inputs(self, config: Any, data_dir: str | Path) -> None:
        """DenselabError for a missing or unreadable input; writes nothing."""
        self.module.check_inputs(config, Path(data_dir))

    def run(self, config: Any, out_dir: Path, runtime: Runtime) -> dict:
        return self.module.run(config, out_dir, runtime)

    def preset_values(self, preset: str) -> dict[str, Any]:
        """Every config field's value under `preset`."""
        return dataclasses.asdict(self.config_class(**self.presets[preset]))

    def field_docs(self) -> dict[str, str]:
        """The one-line docstring of each config field."""
        return field_docs(self.config_class)


# in the order `denselab all` runs them (into OUT/<name>/) and the report shows them
REGISTRY: dict[str, Study] = {
    s.name: s
    for s in (
        Study(
            "mnist",
            "mnist",
            mnist,
            "Study 1: train a 5x1024 MNIST classifier, top-activation grids, t-SNE/PCA of every layer",
            recorded=(mnist, mnist_settings, mnist_train, mnist_introspect, mlp, loop),
        ),
        Study(
            "denoise",
            "denoise train",
            denoise,
            "Study 2: train a denoiser on a clean/noisy pair (validation and a held-out part cut from it), "
            "denoise the test files, score it on voices it never heard",
            recorded=(
                denoise,
                denoise_data,
                denoise_augment,
                denoise_model,
                denoise_train,
                denoise_evaluate,
                denoise_outputs,
                audio,
                speech_metrics,
                mlp,
            ),
        ),
        Study(
            "optim",
            "optim",
            optim,
            "Study 3: initialisation x activation under plain SGD (lr 1.0) and Adam, 5x512 nets",
            recorded=(optim, optim_summary, sgd_map, jobs, batched, stack, mlp),
            jobs=True,
        ),
        Study(
            "dropout",
            "dropout",
            dropout,
            "Study 4: sigmoid+Xavier and ReLU+He, with and without dropout, 5x1024 nets, Adam",
            recorded=(dropout, comparison, jobs, batched, stack, mlp),
            jobs=True,
        ),
    )
}


def study(name: str) -> Study:
    """The study called `name`; DenselabError naming the choices otherwise."""
    from denselab.errors import DenselabError

    if name not in REGISTRY:
        raise DenselabError(f"unknown study {name!r} (choose from {', '.join(REGISTRY)})")
    return REGISTRY[name]
