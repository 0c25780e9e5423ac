"""The Discord bot (issue 7): slash commands in servers, DMs and private channels."""
