"""moot: anonymous, ephemeral meetings."""

__version__ = "0.1.0"
