"""Progress and events. The runtime never prints: it emits events; this module renders them
(rich progress bars per generating node and one for the whole build, each with rows/s and
generated tok/s) and/or appends them to a JSON-lines log."""

from __future__ import annotations

import json
import time
from typing import Any, TextIO

__all__ = ["Events"]

_TOTAL = ""  # the key of the whole build's bar (no node id is empty)


class Events:
    def __init__(self, err: TextIO, quiet: bool, log_path: str | None) -> None:
        self.quiet = quiet
        self.err = err
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._tokens: dict[str, int] = {}
        self._start: dict[str, float] = {}
        self._done_total = 0
        self._rows_total = 0
        if not quiet:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            console = Console(file=err, force_terminal=None)
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=console, transient=False,
            )
            self._progress.start()

    def emit(self, event: str, **data: Any) -> None:
        if self.log is not None:
            self.log.write(json.dumps({"t": round(time.time(), 3), "event": event, **data}, ensure_ascii=False) + "\n")
            self.log.flush()
        if self._progress is None:
            return
        node = data.get("node", "")
        if event == "generate_start":
            now = time.time()
            self._start[node] = now
            self._tokens[node] = 0
            kv = int(data.get("kv_bytes", 0))
            label = f"{node} [dim](width {data.get('width', 1)}{f', KV {kv / 2**20:.0f} MiB' if kv else ''})[/dim]"
            self._tasks[node] = self._progress.add_task(label, total=data["total"], rate="")
            if _TOTAL not in self._tasks:
                self._start[_TOTAL], self._tokens[_TOTAL] = now, 0
                self._tasks[_TOTAL] = self._progress.add_task("all generation", total=0, rate="")
            self._rows_total += data["total"]
            self._progress.update(self._tasks[_TOTAL], total=self._rows_total)
        elif event == "generate_round" and node in self._tasks:  # a quota round adds rows
            self._rows_total += data["rows"]
            self._progress.update(self._tasks[node], total=data["total"])
            self._progress.update(self._tasks[_TOTAL], total=self._rows_total)
        elif event == "row_done" and node in self._tasks:
            self._done_total += 1
            for key, done in ((node, data["done"]), (_TOTAL, self._done_total)):
                self._tokens[key] += int(data.get("tokens", 0))
                elapsed = max(1e-6, time.time() - self._start[key])
                rate = f"{done / elapsed:.2f} rows/s {self._tokens[key] / elapsed:.0f} tok/s"
                self._progress.update(self._tasks[key], completed=done, rate=rate)
        elif event == "step" and not node.startswith("generate:"):
            self._progress.console.print(f"[dim]{node}[/dim] {data.get('note', '')}")

    def notice(self, text: str) -> None:
        """A line the user must see even with --quiet (e.g. an updated lock file)."""
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.err)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self.log is not None:
            self.log.close()
