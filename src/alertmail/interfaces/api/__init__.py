"""The REST API under /api/v1."""

"""The REST API under /api/v1 (`alertmail.interfaces.api.app.create_app`).

Nothing is imported here: the CLI reads this package's schemas without loading FastAPI's app.
"""
