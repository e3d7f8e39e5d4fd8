"""What this machine's CPU offers the kernels synthc runs: its feature flags, read once.

Two decisions rest on them: llama.cpp's AMX buffer types stay off (llama.py) and the dense
encoder's precision on OpenVINO (runtime/eval/embed.py: bf16 where the CPU computes it natively).
Read from /proc/cpuinfo without importing a kernel library, so a cache key can carry the answer
cheaply; None where the file does not exist (not Linux)."""

from __future__ import annotations

import functools

__all__ = ["cpu_flags"]


@functools.cache
def cpu_flags() -> frozenset[str] | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        return None
    return frozenset()
