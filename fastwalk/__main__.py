"""Allow ``python -m fastwalk``."""

from fastwalk.cli import main

main()
