"""The benchmark suite (bench/README.md); run it with ``python bench/run.py``."""
