"""`sync-workers demo`: the whole pipeline against the sandbox, narrated.

command.py (the CLI entry and the order of things) starts the processes through
supervisor.py / stack.py, connects sandbox accounts (accounts.py), plays scenario.py and
prints summary.py; progress.py is everything the terminal shows.
"""
