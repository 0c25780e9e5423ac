"""The FastAPI app: share pages, web upload, webhooks, admin, health and metrics."""
