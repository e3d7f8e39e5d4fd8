"""From planned rows to requests and back: template rendering and scopes, prompts, conversation history, parsing completions, the judge's requests."""
