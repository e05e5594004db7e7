"""``python -m bubbleup``."""

from bubbleup.cli import main

main()
