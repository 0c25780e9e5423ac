"""Redis/Valkey for tests."""
