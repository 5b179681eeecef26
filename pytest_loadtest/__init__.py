"""pytest-loadtest: load testing with pytest (public API; work in progress)."""
