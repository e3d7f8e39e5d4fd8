"""What persists under `.synthc/` and beside the recipe: the per-row cache, memos, the usage ledger, the lock."""
