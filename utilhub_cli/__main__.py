"""``python -m utilhub_cli``: the ``utilhub`` command."""

from utilhub_cli.app import main

main()
