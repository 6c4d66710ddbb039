"""`python -m kura` is the `kura` command."""

from kura.cli import main

main()
