"""Benchmarks of skillforge.dataops against hand-written SQL (scripts, not tests): see docs/PERFORMANCE.md."""
