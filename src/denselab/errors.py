"""User-facing errors: the CLI turns these into one `denselab: error: ...` line and exit status 2."""


class DenselabError(Exception):
    """Bad usage or bad input. The message is shown to the user as one line, without a traceback."""


class RunsFailed(Exception):
    """Some training runs failed for good; everything else finished and was written (summary.json lists them
    under `failed_runs`). The CLI shows the message as one line and exits 1."""
