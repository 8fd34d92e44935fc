"""Old import path of `denoise eval`'s folder form, kept only until `cli.py` imports it from
`denselab.studies.denoise.commands`; then delete this file."""

from denselab.studies.denoise.commands import evaluate_folder

__all__ = ["evaluate_folder"]
