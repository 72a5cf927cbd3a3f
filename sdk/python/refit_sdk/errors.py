"""Errors that mean "the user must change something"; their messages say what."""


class ConfigurationError(Exception):
    """The model folder, the artifact or the command line is not usable as given.

    The build runner and the server turn it into one ``refit-...-error:`` line and exit code 2, so its
    message must be a single sentence that names the problem and the fix.
    """
