"""The ``swapzy`` command. Each sub-command imports what it needs when it runs."""
