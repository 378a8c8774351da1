"""`python -m bench`: SCIM throughput next to the raw asyncpg ceiling (SPEC §8).

A benchmark, not a test: it reports figures and asserts nothing about them.
"""
