"""The desktop GUI (PySide6): views and controllers over app.core and app.live. No image math here."""
