"""A real Redis 8 with the query engine for the tests (filled in by the Redis backend work)."""
