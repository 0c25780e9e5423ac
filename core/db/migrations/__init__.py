"""Alembic migrations for the Swapzy database (run through ``core.db.migrate``, no alembic.ini).

A package, so an ordinary (non-editable) install ships ``env.py`` and the revisions as modules;
``script.py.mako`` is listed as package data in ``pyproject.toml``.
"""
