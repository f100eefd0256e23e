"""Integrations over HTTP: REST API, OpenAI-compatible chat completions, MCP server."""
