"""The REST API front door (FastAPI): `api.app.create_app`."""
