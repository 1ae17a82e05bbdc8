"""The scripts here are benchmarks run by hand (`python tests/perf/<name>.py`), never by pytest."""

collect_ignore_glob = ["*.py"]
