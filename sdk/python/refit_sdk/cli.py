"""Command-line plumbing shared by ``refit_sdk.build`` and ``refit_sdk.serve``."""

import argparse
import sys


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one prefixed line on stderr and exit code 2.

    Refit reads the last ``refit-...-error:`` line of a failed step and shows it to the user; argparse's
    usage block would push the actual problem off that line.
    """

    def __init__(self, *args, error_prefix: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.error_prefix = error_prefix

    def error(self, message):
        sys.stderr.write(f"{self.error_prefix} {message} (see --help)\n")
        sys.exit(2)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: use 1 or more")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number: use 0 to 65535")
    return value


def true_or_false(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"{text!r} is not true or false")
    return lowered == "true"
