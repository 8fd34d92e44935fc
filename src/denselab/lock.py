"""One writer per output folder: every command that writes into `--out` holds `OUT/.denselab.lock` while it
runs.

The lock is an exclusive `flock` on that file, so the kernel drops it the moment its holder dies (SIGKILL
included); the file's text names the holder (host, pid, command, start time) for the message a second writer
sees. A file whose lock nobody holds was left by a killed process: the next writer takes it over and says so.
Released (file removed) when the command ends, Ctrl-C included. Re-entrant within one process, so a command
that locks OUT may call code that locks OUT again (e.g. `denselab all` building the report).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from denselab.errors import DenselabError

LOCK_NAME = ".denselab.lock"

_held: dict[Path, int] = {}  # resolved OUT -> how many nested `out_lock`s of this process hold it


def _holder_text(command: str) -> str:
    return (
        json.dumps(
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "command": command,
                "since": _dt.datetime.now().isoformat(timespec="seconds"),
            }
        )
        + "\n"
    )


def _describe(info: dict[str, Any]) -> str:
    what = f"`denselab {info['command']}`" if info.get("command") else "a denselab command"
    return (
        f"{what} (pid {info.get('pid', '?')} on host {info.get('host', '?')}, since {info.get('since', '?')})"
    )


def _read_holder(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        info = json.loads(os.read(fd, 4096).decode() or "{}")
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _acquire(path: Path, command: str) -> int:
    """Open and flock `path`; return its descriptor. DenselabError when another live process holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read_holder(fd)
            os.close(fd)
            raise DenselabError(
                f"{path.parent} is in use by {_describe(info)}; wait for it to finish or choose another --out"
            ) from None
        # the holder we waited on may have removed the file between our open and our flock: then we hold a
        # lock on a deleted file, and a third process could lock a new one. Lock the file that is there now.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    stale = _read_holder(fd)
    if stale:
        print(
            f"denselab: taking over the lock on {path.parent} left by {_describe(stale)}, which is gone",
            file=sys.stderr,
        )
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, _holder_text(command).encode())
    os.fsync(fd)
    return fd


@contextlib.contextmanager
def out_lock(out_dir: str | os.PathLike, command: str = "", create: bool = True) -> Iterator[Path]:
    """Hold the write lock on `out_dir` for the `with` block; yield the lock file's path.
    A missing `out_dir` is created (`create`), or raises DenselabError.

    DenselabError (exit 2) naming the holder when another live process holds it; a lock left by a dead
    process is taken over with a message on stderr (--quiet too: it explains a folder's history)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DenselabError(f"--out {out} exists and is not a folder")
    if not create and not out.is_dir():
        raise DenselabError(f"results folder not found: {out}")
    out.mkdir(parents=True, exist_ok=True)
    key = out.resolve()
    path = out / LOCK_NAME
    if key in _held:
        _held[key] += 1
        try:
            yield path
        finally:
            _held[key] -= 1
        return
    fd = _acquire(path, command)
    _held[key] = 1
    try:
        yield path
    finally:
        del _held[key]
        with contextlib.suppress(OSError):
            path.unlink()  # before unlocking: a waiter then finds no file, or a new one (see _acquire)
        os.close(fd)
