"""Firebreak: a ChatOps incident bot."""

__version__ = "0.1.0"
