"""One writer per --out (denselab.lock): the holder is named, a dead holder's lock is taken over, and it is
released on exit."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from denselab.errors import DenselabError
from denselab.lock import LOCK_NAME, out_lock

# a second process that takes the lock on argv[1], says so, then sleeps until killed
HOLDER = (
    "import sys, time\nfrom denselab.lock import out_lock\n"
    "with out_lock(sys.argv[1], 'optim'):\n    print('locked', flush=True)\n    time.sleep(600)\n"
)


def _holder(out: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_records_holder_and_is_removed_on_exit(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    with out_lock(out, "dropout") as path:
        info = json.loads(path.read_text())
        assert path == out / LOCK_NAME
        assert (info["host"], info["pid"], info["command"]) == (socket.gethostname(), os.getpid(), "dropout")
        with out_lock(out, "report"):  # re-entrant in one process (`all` builds the report inside its lock)
            pass
        assert path.exists()
    assert not path.exists()


def test_lock_is_released_on_an_exception(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with out_lock(tmp_path):
            raise KeyboardInterrupt
    with out_lock(tmp_path):
        pass


def test_second_writer_is_refused_naming_the_holder_then_takes_over_a_dead_one(
    tmp_path: Path, capsys
) -> None:
    proc = _holder(tmp_path)
    try:
        with pytest.raises(DenselabError) as err:
            with out_lock(tmp_path, "optim"):
                pass
        msg = str(err.value)
        assert f"pid {proc.pid} on host {socket.gethostname()}" in msg and "`denselab optim`" in msg
        assert "\n" not in msg
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (tmp_path / LOCK_NAME).exists()  # left behind by the killed holder
    with out_lock(tmp_path, "optim") as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert (
        f"taking over the lock on {tmp_path} left by `denselab optim` (pid {proc.pid}"
        in capsys.readouterr().err
    )


def test_lock_refuses_a_file_as_out(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(DenselabError, match="not a folder"):
        with out_lock(tmp_path / "f"):
            pass


def test_two_racing_writers_never_both_hold_it(tmp_path: Path) -> None:
    racer = (
        "import sys, time\nfrom denselab.errors import DenselabError\nfrom denselab.lock import out_lock\n"
        "n = 0\nend = time.time() + 1.5\nwhile time.time() < end:\n"
        "    try:\n        with out_lock(sys.argv[1]):\n"
        "            open(sys.argv[2], 'a').write('+')\n            time.sleep(0.002)\n"
        "            open(sys.argv[2], 'a').write('-')\n    except DenselabError:\n        pass\n"
    )
    log = tmp_path / "log"
    procs = [
        subprocess.Popen([sys.executable, "-c", racer, str(tmp_path / "out"), str(log)]) for _ in range(3)
    ]
    for p in procs:
        assert p.wait(timeout=60) == 0
    text = log.read_text()
    assert text and text == "+-" * (len(text) // 2)  # every hold ended before the next began
