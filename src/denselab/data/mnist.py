"""MNIST-format IDX files: read (raw or .gz), validate, normalise, and download when absent.

Nothing here assumes the images are digits: any 10-class dataset in the same four-file IDX layout works.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from denselab.errors import DenselabError
from denselab.io import atomic_path

# role -> standard file name (without .gz)
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# MD5 of the *unzipped* original files: one check serves both raw and .gz copies.
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
MEAN, STD = 0.1307, 0.3081  # pixel mean / std of the MNIST training set, pixels scaled to [0, 1]
NUM_CLASSES = 10

# IDX type byte -> numpy big-endian dtype
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class Mnist:
    """Raw dataset: images uint8 (N, H, W), labels int64 (N,)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def _open_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DenselabError(f"cannot read {path}: {e}") from None


def _parse_header(path: Path, data: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, shape, header bytes) from the start of an IDX file's bytes, checking its magic number."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES or data[3] == 0:
        raise DenselabError(f"{path} is not an IDX file (bad magic number {data[:4].hex() or 'empty'})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DenselabError(f"{path} is truncated (header cut short)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.dtype(_IDX_DTYPES[data[2]]), shape, header


def _check_length(path: Path, dtype: np.dtype, shape: tuple[int, ...], header: int, size: int) -> None:
    expected = int(np.prod(shape)) * dtype.itemsize
    if size - header != expected:
        raise DenselabError(
            f"{path} is truncated or padded: header says {shape} "
            f"({expected} bytes of data), file holds {size - header}"
        )


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or gzip) into an array, checking the magic number and the data length."""
    path = Path(path)
    data = _open_bytes(path)
    dtype, shape, header = _parse_header(path, data)
    _check_length(path, dtype, shape, header, len(data))
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def idx_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """The array shape an IDX file (raw or gzip) holds, checked like `read_idx` but cheaply: only the header
    is read, and the data length comes from the file size (a .gz file's from its gzip trailer)."""
    path = Path(path)
    try:
        if path.suffix != ".gz":
            with path.open("rb") as f:
                head = f.read(4 + 4 * 255)
            size = path.stat().st_size
        else:
            with gzip.open(path, "rb") as f:
                head = f.read(4 + 4 * 255)
            with path.open("rb") as f:
                f.seek(-4, os.SEEK_END)  # ISIZE: the uncompressed length modulo 2**32
                size = int.from_bytes(f.read(4), "little")
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DenselabError(f"cannot read {path}: {e}") from None
    dtype, shape, header = _parse_header(path, head)
    try:
        _check_length(path, dtype, shape, header, size)
    except DenselabError:
        if path.suffix != ".gz":
            raise
        read_idx(path)  # a multi-member .gz has no single trailer: decompress it to be sure
    return shape


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write `array` as a uint8 IDX file (gzip when the name ends in .gz): `read_idx`'s inverse, for making
    other datasets in MNIST's four-file layout."""
    path = Path(path)
    array = np.asarray(array)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    blob = header + array.astype(np.uint8).tobytes()
    with atomic_path(path) as tmp:
        tmp.write_bytes(gzip.compress(blob) if path.suffix == ".gz" else blob)
    return path


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _missing_message(folder: Path, reason: str) -> str:
    names = ", ".join(MNIST_FILES.values())
    return f"MNIST files not found in {folder} ({reason}); put the four IDX files there (raw or .gz): {names}"


def download_mnist(folder: str | os.PathLike, timeout: float = 30.0) -> None:
    """Download the four original files into `folder` (as .gz) and verify their MD5; atomic per file."""
    folder = Path(folder)
    for name, md5 in MNIST_MD5.items():
        if _find(folder, name):
            continue
        errors = []
        for mirror in MIRRORS:
            try:
                with urllib.request.urlopen(mirror + name + ".gz", timeout=timeout) as r:
                    blob = r.read()
                if hashlib.md5(gzip.decompress(blob)).hexdigest() != md5:
                    errors.append(f"{mirror}: checksum mismatch")
                    continue
                with atomic_path(folder / f"{name}.gz") as tmp:
                    tmp.write_bytes(blob)
                break
            except (urllib.error.URLError, OSError, EOFError, gzip.BadGzipFile, ValueError) as e:
                errors.append(f"{mirror}: {e}")
        else:
            raise DenselabError(_missing_message(folder, f"download of {name} failed: {errors[-1]}"))


def _missing(folder: Path) -> list[str]:
    return [n for n in MNIST_FILES.values() if _find(folder, n) is None]


def _raise_missing(folder: Path, missing: list[str]) -> None:
    if missing:
        reason = (
            "none of them is there" if len(missing) == len(MNIST_FILES) else "missing " + ", ".join(missing)
        )
        raise DenselabError(_missing_message(folder, reason))


def _check_shapes(folder: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    """The four files' shapes (role -> shape) fit together: images (N, H, W) with N labels, one image size."""
    for split in ("train", "test"):
        images, labels = shapes[f"{split}_images"], shapes[f"{split}_labels"]
        if len(images) != 3 or len(labels) != 1:
            raise DenselabError(
                f"{split} files in {folder} have shapes {images} and {labels}; "
                f"expected images (N, H, W) and labels (N,)"
            )
        if images[0] != labels[0]:
            raise DenselabError(
                f"{split} images and labels in {folder} disagree: {images[0]} images but {labels[0]} labels"
            )
    if shapes["train_images"][1:] != shapes["test_images"][1:]:
        raise DenselabError(f"train and test images in {folder} differ in size")


def _check_labels(folder: Path, split: str, labels: np.ndarray) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DenselabError(
            f"{split} labels in {folder} must lie in 0..{NUM_CLASSES - 1}, "
            f"found {labels.min()}..{labels.max()}"
        )


def check_mnist_folder(folder: str | os.PathLike, complete: bool = True) -> None:
    """DenselabError unless `folder` holds the four IDX files with readable headers whose shapes fit
    together and labels in 0..9; reads the headers and the (small) label files only, writes nothing.
    With `complete=False` absent files pass (they are downloaded) and only the present ones are checked."""
    folder = Path(folder)
    missing = _missing(folder)
    if complete:
        _raise_missing(folder, missing)
    shapes = {
        role: idx_shape(_find(folder, name)) for role, name in MNIST_FILES.items() if name not in missing
    }
    if not missing:
        _check_shapes(folder, shapes)
    for split in ("train", "test"):
        name = MNIST_FILES[f"{split}_labels"]
        if name not in missing and len(shapes[f"{split}_labels"]) == 1:
            _check_labels(folder, split, read_idx(_find(folder, name)))


def check_download_folder(folder: str | os.PathLike) -> None:
    """The default MNIST folder may be absent or incomplete (the missing files are downloaded), but what is
    there must be readable: DenselabError otherwise. Writes nothing."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise DenselabError(f"{folder} (where MNIST is downloaded) exists and is not a folder")
    check_mnist_folder(folder, complete=False)


def load_mnist(folder: str | os.PathLike, download: bool = True) -> Mnist:
    """Load and validate the four IDX files from `folder`, downloading them first when absent."""
    folder = Path(folder)
    if _missing(folder) and download:
        download_mnist(folder)
    _raise_missing(folder, _missing(folder))
    arrays = {role: read_idx(_find(folder, name)) for role, name in MNIST_FILES.items()}
    _check_shapes(folder, {role: a.shape for role, a in arrays.items()})
    for split in ("train", "test"):
        _check_labels(folder, split, arrays[f"{split}_labels"])
    return Mnist(
        *(torch.from_numpy(arrays[r].astype(np.uint8 if "images" in r else np.int64)) for r in MNIST_FILES)
    )


def normalize(images: torch.Tensor, mean: float = MEAN, std: float = STD) -> torch.Tensor:
    """uint8 (N, H, W) -> float32 (N, H*W), scaled to [0, 1] then standardised."""
    x = images.reshape(len(images), -1).float().div_(255.0)
    return x.sub_(mean).div_(std)


def pixel_stats(images: torch.Tensor) -> tuple[float, float]:
    """(mean, std) of the pixels scaled to [0, 1], for `normalize` on datasets other than MNIST."""
    x = images.float().div(255.0)
    return float(x.mean()), float(x.std())
