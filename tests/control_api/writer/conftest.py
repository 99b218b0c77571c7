"""The writer's tests use the fake chat server of tests/conftest.py (``chat``: emptied per test)."""
