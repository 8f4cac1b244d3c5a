"""The chat example: ``vivace run examples.chat.app:app`` (see app.py)."""
