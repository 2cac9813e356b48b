"""Entry point of the packaged app: the same CLI, opening the GUI when started without a command."""

import multiprocessing
import sys

from app.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
