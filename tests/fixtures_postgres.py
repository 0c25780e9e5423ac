"""PostgreSQL for tests (filled in by the DB work)."""
