"""The REST API under /api/v1."""

from alertmail.interfaces.api.app import create_app

__all__ = ["create_app"]
