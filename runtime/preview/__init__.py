"""Answers without generating: `synthc plan` (cache status, tokens), `show`, `diff`."""
