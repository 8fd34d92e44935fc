"""IDX reader on the real files and on corrupted bytes; the cheap header checks run before a study starts;
normalisation. Nothing here touches the network: every test runs with `urlopen` refusing, and the download
tests serve the files themselves."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from denselab.data.mnist import (
    MNIST_FILES,
    MNIST_MD5,
    check_mnist_folder,
    idx_shape,
    load_mnist,
    normalize,
    pixel_stats,
    read_idx,
    write_idx,
)
from denselab.errors import DenselabError


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a URL fails the test that made it (a test that downloads serves the files)."""
    import urllib.request

    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to open {args[0] if args else kwargs}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_real_files_shapes_and_checksums(mnist_dir: Path) -> None:
    d = load_mnist(mnist_dir, download=False)
    assert d.train_images.shape == (60000, 28, 28) and d.train_images.dtype == torch.uint8
    assert d.test_images.shape == (10000, 28, 28)
    assert d.train_labels.shape == (60000,) and d.test_labels.shape == (10000,)
    assert set(d.train_labels.unique().tolist()) == set(range(10))
    for name, md5 in MNIST_MD5.items():
        assert hashlib.md5(gzip.decompress((mnist_dir / f"{name}.gz").read_bytes())).hexdigest() == md5
    x = normalize(d.train_images)
    assert x.shape == (60000, 784) and x.dtype == torch.float32
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1.0) < 1e-3
    mean, std = pixel_stats(d.train_images)
    assert mean == pytest.approx(0.1307, abs=1e-4) and std == pytest.approx(0.3081, abs=1e-4)


def _tiny_dataset(folder: Path, n_train: int = 20, n_test: int = 10, gz: bool = False) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write_idx(folder / (MNIST_FILES["train_images"] + suffix), rng.integers(0, 256, (n_train, 8, 8)))
    write_idx(folder / (MNIST_FILES["train_labels"] + suffix), rng.integers(0, 10, n_train))
    write_idx(folder / (MNIST_FILES["test_images"] + suffix), rng.integers(0, 256, (n_test, 8, 8)))
    write_idx(folder / (MNIST_FILES["test_labels"] + suffix), rng.integers(0, 10, n_test))


@pytest.mark.parametrize("gz", [False, True])
def test_any_idx_dataset_raw_or_gz(tmp_path: Path, gz: bool) -> None:
    _tiny_dataset(tmp_path, gz=gz)
    d = load_mnist(tmp_path, download=False)
    assert d.train_images.shape == (20, 8, 8) and d.test_labels.shape == (10,)
    assert normalize(d.test_images).shape == (10, 64)


def test_bad_magic(tmp_path: Path) -> None:
    _tiny_dataset(tmp_path)
    p = tmp_path / MNIST_FILES["train_images"]
    blob = bytearray(p.read_bytes())
    blob[2] = 0x42
    p.write_bytes(bytes(blob))
    with pytest.raises(DenselabError, match="bad magic number"):
        load_mnist(tmp_path, download=False)


def test_truncated(tmp_path: Path) -> None:
    _tiny_dataset(tmp_path)
    p = tmp_path / MNIST_FILES["test_images"]
    p.write_bytes(p.read_bytes()[:-7])
    with pytest.raises(DenselabError, match="truncated"):
        load_mnist(tmp_path, download=False)


def test_count_mismatch(tmp_path: Path) -> None:
    _tiny_dataset(tmp_path)
    write_idx(tmp_path / MNIST_FILES["train_labels"], np.zeros(19))
    with pytest.raises(DenselabError, match="20 images but 19 labels"):
        load_mnist(tmp_path, download=False)


def test_label_range(tmp_path: Path) -> None:
    _tiny_dataset(tmp_path)
    write_idx(tmp_path / MNIST_FILES["test_labels"], np.full(10, 12))
    with pytest.raises(DenselabError, match="0..9"):
        load_mnist(tmp_path, download=False)


def test_corrupt_gzip(tmp_path: Path) -> None:
    _tiny_dataset(tmp_path, gz=True)
    p = tmp_path / (MNIST_FILES["train_images"] + ".gz")
    p.write_bytes(p.read_bytes()[:30])
    with pytest.raises(DenselabError, match="cannot read"):
        load_mnist(tmp_path, download=False)


def test_missing_files_named(tmp_path: Path) -> None:
    with pytest.raises(DenselabError) as e:
        load_mnist(tmp_path / "nowhere", download=False)
    msg = str(e.value)
    assert str(tmp_path / "nowhere") in msg
    assert all(name in msg for name in MNIST_FILES.values())


def test_download_failure_names_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.error

    import denselab.data.mnist as m

    def offline(*a, **k):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(m.urllib.request, "urlopen", offline)
    with pytest.raises(DenselabError, match="download of train-images-idx3-ubyte failed"):
        load_mnist(tmp_path, download=True)
    assert not list(tmp_path.iterdir())  # nothing half-downloaded left behind


def test_download_verifies_md5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mnist_dir: Path) -> None:
    import io

    import denselab.data.mnist as m

    def serve(url, timeout=None):
        name = url.rsplit("/", 1)[-1]
        return io.BytesIO((mnist_dir / name).read_bytes())

    monkeypatch.setattr(m.urllib.request, "urlopen", serve)
    d = load_mnist(tmp_path, download=True)
    assert len(d.train_images) == 60000
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.gz" for n in MNIST_FILES.values())


def test_read_idx_rejects_non_idx(tmp_path: Path) -> None:
    p = tmp_path / "x"
    p.write_text("hello world, not an idx file")
    with pytest.raises(DenselabError, match="not an IDX file"):
        read_idx(p)
    shutil.rmtree(tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_shape_reads_the_header_only(tmp_path: Path, gz: bool) -> None:
    _tiny_dataset(tmp_path, gz=gz)
    suffix = ".gz" if gz else ""
    assert idx_shape(tmp_path / (MNIST_FILES["train_images"] + suffix)) == (20, 8, 8)
    assert idx_shape(tmp_path / (MNIST_FILES["test_labels"] + suffix)) == (10,)
    check_mnist_folder(tmp_path)


def test_idx_shape_finds_truncated_and_padded_files(tmp_path: Path) -> None:
    _tiny_dataset(tmp_path)
    raw = tmp_path / MNIST_FILES["train_images"]
    blob = raw.read_bytes()
    raw.write_bytes(blob + b"extra")
    with pytest.raises(
        DenselabError, match=r"padded: header says \(20, 8, 8\) \(1280 bytes of data\), file holds 1285"
    ):
        idx_shape(raw)
    gz = tmp_path / "cut.gz"
    gz.write_bytes(gzip.compress(blob[:-7]))  # a valid gzip of a cut file: its trailer gives the length
    with pytest.raises(DenselabError, match="file holds 1273"):
        idx_shape(gz)
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(DenselabError, match="not an IDX file"):
        idx_shape(tmp_path / "empty")


def test_check_mnist_folder_names_the_missing_file(tmp_path: Path) -> None:
    _tiny_dataset(tmp_path, gz=True)
    (tmp_path / (MNIST_FILES["train_labels"] + ".gz")).unlink()
    with pytest.raises(DenselabError) as e:
        check_mnist_folder(tmp_path)
    assert str(tmp_path) in str(e.value) and "missing train-labels-idx1-ubyte" in str(e.value)
    check_mnist_folder(tmp_path, complete=False)  # absent files are downloaded later; present ones are fine


@pytest.mark.parametrize(
    "role, array, match",
    [
        ("train_labels", np.zeros(19), "20 images but 19 labels"),
        ("test_images", np.zeros((10, 8, 9)), "differ in size"),
        ("test_images", np.zeros((10, 64)), "expected images"),
        ("test_labels", np.full(10, 12), "0..9"),
    ],
)
def test_check_mnist_folder_finds_files_that_do_not_fit(tmp_path: Path, role: str, array, match: str) -> None:
    _tiny_dataset(tmp_path)
    write_idx(tmp_path / MNIST_FILES[role], array)
    with pytest.raises(DenselabError, match=match):
        check_mnist_folder(tmp_path)
    with pytest.raises(DenselabError, match=match):
        load_mnist(tmp_path, download=False)  # the full reader agrees
