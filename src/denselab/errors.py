"""User-facing errors: the CLI turns these into one `denselab: error: ...` line and exit status 2."""


class DenselabError(Exception):
    """Bad usage or bad input. The message is shown to the user as one line, without a traceback."""


class RunsFailed(Exception):
    """Some training runs failed for good; everything else finished and was written (summary.json lists them
    under `failed_runs`). The CLI shows the message as one line and exits 1."""


class MissingInput(DenselabError):
    """An input a study needs is not there (a file the user has not put in place yet, such as the speech
    recordings of Study 2). `denselab all` skips that study, says so, and still builds the report."""
