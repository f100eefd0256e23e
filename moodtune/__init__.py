"""Moodtune: a local-first conversational music recommender."""

__version__ = "0.1.0"
