"""`python -m sync_workers.cli`: the `sync-workers` command."""
from .main import main

main()
