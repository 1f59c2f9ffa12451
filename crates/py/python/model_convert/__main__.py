"""The ``model-convert`` console script: the ``convert`` command line, same arguments and exit codes."""

from __future__ import annotations

import signal
import sys
from typing import List, Optional

from . import _native


def main(argv: Optional[List[str]] = None) -> None:
    """Runs the command line on ``argv`` (default ``sys.argv[1:]``) and exits with its code."""
    args = sys.argv[1:] if argv is None else argv
    # As a process of its own, Ctrl-C ends it as it ends the Rust binary.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_native.cli_main(["model-convert", *args]))


if __name__ == "__main__":
    main()
