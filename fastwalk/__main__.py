"""Allow ``python -m fastwalk``."""

from fastwalk._entry import main

main()
