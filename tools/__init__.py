"""The agent's tools: emotion classifier, style classifier, catalog search (plain functions first)."""
