"""``python -m bubbleup``."""

from bubbleup.interfaces.cli import main

main()
