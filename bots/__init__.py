"""Chat adapters (Telegram, Discord): thin handlers from chat events to ``jobs.submit``."""
