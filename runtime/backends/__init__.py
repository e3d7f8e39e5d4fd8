"""Model backends: `base` (the Protocol and request types), `fake` (deterministic, for tests),
`llama` (llama-cpp-python + guidance, the real one; imported lazily)."""
