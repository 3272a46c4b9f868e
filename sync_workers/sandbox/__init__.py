"""Local, faithful emulators of the provider APIs for tests, benchmarks and the demo."""
