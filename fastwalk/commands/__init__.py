"""One module per ``fastwalk`` subcommand; each defines ``command``.

Modules here import only Click and :mod:`fastwalk.commands._common` at
import time; the numerical code is imported inside the command functions.
"""
