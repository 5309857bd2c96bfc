"""Playground: a desktop neural-network playground for learning how networks train."""

__version__ = "0.1.0"
