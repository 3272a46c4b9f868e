"""`sync-workers demo`: the whole pipeline against the sandbox, narrated.

run.py (the order of things; options.py: what cli/demo.py was asked) starts the processes
through startup.py, supervisor.py and stack.py, connects sandbox accounts (accounts.py),
plays steps.py on scene.py and prints summary.py; progress.py is everything the terminal
shows. Nothing in the product imports the demo, and the demo imports nothing of the CLI:
it runs `sync-workers` commands in child processes, as an operator would.
"""
