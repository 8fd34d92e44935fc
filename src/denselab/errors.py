"""User-facing errors: the CLI turns these into one `denselab: error: ...` line and exit status 2."""


class DenselabError(Exception):
    """Bad usage or bad input. The message is shown to the user as one line, without a traceback."""
