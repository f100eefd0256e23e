"""The conversation: request parsing, ranking, explanation, user profile."""
