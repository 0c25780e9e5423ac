"""Features of the Discord bot, one cog each."""
