"""Corpora and retrievers (BM25, dense, random), the embedding store, ranked retrieval for IR evaluation."""
