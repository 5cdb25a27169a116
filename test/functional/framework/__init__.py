"""Functional test framework: start, stop, restart and kill defid and
metachaind in temporary data directories, and wait for what they do."""
