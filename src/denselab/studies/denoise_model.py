"""Old import path of `denoise apply` / `denoise eval`'s functions, kept only until `cli.py` and `bench.py`
import them from `denselab.studies.denoise.commands`; then delete this file."""

from denselab.studies.denoise.commands import apply_files, evaluate_files

__all__ = ["apply_files", "evaluate_files"]
