"""room-recorder: keeps media only in an encrypted in-memory ring until staff raise an alarm."""

__version__ = "0.1.0"
