"""The SDK's version, reported by the build (model.json) and by the server (GET /v2)."""

__version__ = "0.1.0"
