"""Data loading: MNIST-format IDX files and WAV audio / STFT features."""

from denselab.data.mnist import MNIST_FILES, Mnist, load_mnist, normalize, read_idx, write_idx

__all__ = ["MNIST_FILES", "Mnist", "load_mnist", "normalize", "read_idx", "write_idx"]
