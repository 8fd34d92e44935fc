"""Shared fixtures: where the data lies (CI sets $DENSELAB_DATA to ../shared/data), the one table of tiny
settings every test that runs a whole study uses, and one session-wide `denselab all` run on those settings
(`tiny_run`) that the tests of every study read instead of training the same studies again."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
# What the suite writes stays in the checkout: pytest's temporary folders (`--basetemp` in pyproject.toml)
# and the caches and runtime files of matplotlib, Jupyter and IPython (set before they are imported).
for _var, _sub in (
    ("MPLCONFIGDIR", "matplotlib"),
    ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
    ("JUPYTER_DATA_DIR", "jupyter-data"),
    ("IPYTHONDIR", "ipython"),
    ("XDG_CACHE_HOME", "cache"),
):
    os.environ.setdefault(_var, str(REPO / ".pytest-home" / _sub))

from denselab import cli  # noqa: E402
from denselab.registry import REGISTRY  # noqa: E402

__all__ = ["REPO", "TINY"]

# Overrides on top of the `quick` preset that cut each study to seconds: every code path and output file,
# meaningless numbers.
TINY: dict[str, dict[str, Any]] = {
    # lr and batch chosen so 1000 images in one epoch learn something (test accuracy 0.71, seed 0)
    "mnist": dict(
        hidden_layers=2,
        hidden_width=64,
        lr=1e-2,
        batch_size=64,
        train_subset=1000,
        test_subset=500,
        probe_images=200,
    ),
    "denoise": dict(
        hidden=(32, 32),
        epochs=1,
        frames_per_epoch=512,
        batch_size=64,
        speed_factors=(1.0,),
        pitch_factors=(1.0,),
        formant_factors=(1.0,),
        unseen="none",
    ),
    "optim": dict(
        arms=("sigmoid-normal", "relu-he"),
        hidden_width=64,
        epochs=1,
        train_subset=600,
        test_subset=500,
        probe_size=128,
        trace_steps=8,
        batch_size=50,
        seeds=1,
        lr_sweep=False,
        scaling_check=False,
        map_batch_sizes=(50,),
        map_train_sizes=(300, 600),
        map_epochs=1,
    ),
    "dropout": dict(
        hidden_width=64,
        epochs=2,
        train_subset=500,
        test_subset=400,
        probe_size=128,
        trace_steps=4,
        batch_size=100,
        seeds=1,
    ),
}


def _data_dir() -> Path:
    env = os.environ.get("DENSELAB_DATA")
    return Path(env) if env else (REPO.parent / "shared" / "data")


LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def _is_local(host: object) -> bool:
    return host is None or str(host) in LOCAL_HOSTS or str(host).startswith("127.")


@pytest.fixture(autouse=True, scope="session")
def no_network() -> Iterator[None]:
    """No test reaches the network: name look-ups and connections beyond this machine fail at once (Ray's
    loopback traffic and Unix sockets pass)."""
    real_connect, real_lookup = socket.socket.connect, socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and not _is_local(address[0]):
            raise OSError(f"the tests may not reach the network (connect to {address})")
        return real_connect(sock, address)

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local(host):
            raise socket.gaierror(f"the tests may not reach the network (look-up of {host})")
        return real_lookup(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket, "getaddrinfo", lookup)
        yield


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if not (d / "mnist").is_dir():
        pytest.skip(f"no MNIST data at {d} (set DENSELAB_DATA)")
    return d


@pytest.fixture(scope="session")
def mnist_dir(data_dir: Path) -> Path:
    return data_dir / "mnist"


@pytest.fixture(scope="session")
def speech_dir(data_dir: Path) -> Path:
    if not (data_dir / "speech" / "train_clean_male.wav").is_file():
        pytest.skip(f"no speech data at {data_dir / 'speech'} (set DENSELAB_DATA)")
    return data_dir / "speech"


@pytest.fixture(scope="session")
def tiny() -> Callable[..., Any]:
    """`tiny(name, **extra)`: study `name`'s validated config, the quick preset + TINY[name] + `extra`."""

    def make(name: str, **extra: Any) -> Any:
        return REGISTRY[name].config("quick", {**TINY[name], **extra})

    return make


def _flags(overrides: dict[str, Any]) -> list[str]:
    """Command-line flags that set `overrides` (what the CLI generates from the config fields)."""
    args: list[str] = []
    for key, value in overrides.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + key.replace("_", "-"))
        elif isinstance(value, (tuple, list)):
            args += [flag, *map(str, value)]
        else:
            args += [flag, str(value)]
    return args


@pytest.fixture(scope="session")
def tiny_args() -> Callable[..., list[str]]:
    """`tiny_args(name, **extra)`: the flags that give study `name` its tiny settings on --preset quick."""

    def make(name: str, **extra: Any) -> list[str]:
        return ["--preset", "quick", *_flags({**TINY[name], **extra})]

    return make


@contextlib.contextmanager
def tiny_presets(**extra: dict[str, Any]) -> Iterator[None]:
    """Within the block, every study's `quick` preset is widened by TINY (and `extra[study]`): a command run
    through `cli.main` with `--preset quick` then trains in seconds (the product's presets are data, so a
    test can change them; nothing in the product knows about tests)."""
    with pytest.MonkeyPatch.context() as mp:
        for name, study in REGISTRY.items():
            quick = {**study.presets["quick"], **TINY[name], **extra.get(name, {})}
            mp.setitem(study.presets, "quick", quick)
        yield


def run_cli(*args: Any) -> int:
    """`denselab ARGS` in this process, as a user would type it; its exit status."""
    return cli.main([str(a) for a in args])


@pytest.fixture(scope="session")
def short_unseen(tmp_path_factory: pytest.TempPathFactory, speech_dir: Path) -> Path:
    """The unseen-voices folder cut to its first 2 s per file: the check runs on real voices in seconds."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("unseen-short")
    for wav in sorted((speech_dir / "unseen").glob("*.wav")):
        samples, rate = sf.read(wav)
        sf.write(folder / wav.name, samples[: 2 * rate], rate)
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, short_unseen: Path) -> Path:
    """One `denselab all --preset quick` on the tiny settings (the check on unseen voices on, on
    `short_unseen`), through `main()`: the folder it wrote (OUT/mnist, OUT/denoise, OUT/optim,
    OUT/dropout, OUT/report.ipynb, OUT/report.html). Read it; never write into it."""
    out = tmp_path_factory.mktemp("tiny-all") / "run"
    with tiny_presets(denoise={"unseen": str(short_unseen)}):
        assert run_cli("all", "--preset", "quick", "--out", out, "--data-dir", data_dir, "--quiet") == 0
    return out
