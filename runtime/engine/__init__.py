"""The generation engine: the scheduler, the dispatchers (local, Ray), groups of rows through the cache, quota rounds and progress events."""
