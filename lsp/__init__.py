"""synthc lsp: the language server for .synth recipes."""
