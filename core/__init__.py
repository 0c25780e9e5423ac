"""Swapzy's foundation: settings, errors and media probing. Imports nothing else of ours."""
