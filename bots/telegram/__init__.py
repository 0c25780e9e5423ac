"""The Telegram bot: thin handlers from chat events to ``jobs.submit``, and from results back
to the chat (python-telegram-bot 22)."""
