"""Orchestration with I/O around the pure core: reconcile a link, find the links a change
touches. Tasks call in here; this package calls adapters (providers/) and the store."""
