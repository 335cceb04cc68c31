"""The one exception type that means "the user gave us something we cannot use"."""


class UserError(Exception):
    """A problem with the user's input (file, column, config key) rather than a bug.

    The message is one line that names the file, column or key and says what to do.
    The scripts print it without a traceback and exit with status 2 (see common.core.cli).
    """


class ShortfallError(UserError):
    """Fewer rows than asked could be made, and the user asked for all or nothing (--strict).

    Exit status 3 (EXIT_SHORTFALL in common.core.cli), not 2: the input was fine, the model
    could not deliver."""

    exit_status = 3
