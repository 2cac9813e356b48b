"""The REST API (FastAPI): `create_app(ApiSettings(...))`; `deep-live-cam serve` runs it under uvicorn."""

from app.api.app import create_app
from app.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
