"""Playground's entry point: ``python main.py`` opens the window; see ``--help``.

The packaged executable starts here too. All the work is in :mod:`playground.cli`.
"""

from playground.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
