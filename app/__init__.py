"""Deep Live Cam: real-time face swap."""

__version__ = "0.1.0"
