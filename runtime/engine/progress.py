"""Progress and events. The runtime never prints: it emits events; this module renders them
(rich progress bars per generating node and one for the whole build, each with rows/s and
generated tok/s) and/or appends them to a JSON-lines log.

The log is a regular file (or a new one): a pipe or a device is refused (E321) before anything
could block on it, and a write that fails (a full disk, a file-size limit) stops the build with
E505 at once. Lines go straight to the descriptor, unbuffered, so no failed write is left in a
buffer for close() to retry."""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from pathlib import Path
from typing import Any, TextIO

from synthc.compiler.paths import check_readable
from synthc.compiler.plan import node_kind
from synthc.compiler.source import NO_SPAN
from synthc.runtime.errors import fail

__all__ = ["Events", "open_log"]

_TOTAL = ""  # the key of the whole build's bar (no node id is empty)


class Events:
    def __init__(self, err: TextIO, quiet: bool, log_path: str | None) -> None:
        self.quiet = quiet
        self.err = err
        self.log_path = log_path
        self.log = open_log(log_path) if log_path else None  # a descriptor, appended to unbuffered
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
            self._append(json.dumps({"t": round(time.time(), 3), "event": event, **data}, ensure_ascii=False) + "\n")
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
        elif event == "step" and node_kind(node) != "generate":
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
            os.close(self.log)
            self.log = None

    def _append(self, line: str) -> None:
        """One whole line to the log; a failed write is E505 (the log is closed, so nothing retries)."""
        assert self.log is not None
        data = line.encode("utf-8")
        try:
            while data:  # a regular file takes it in one write unless a limit cuts it short
                data = data[os.write(self.log, data):]
        except OSError as exc:
            os.close(self.log)
            self.log = None
            raise fail("E505", f"cannot write the event log {self.log_path}: {exc.strerror or exc}", NO_SPAN,
                       help="free disk space or give --events another file, then rerun: finished "
                            "generations are cached") from None


def open_log(path: str) -> int:
    """A descriptor appending to `path`, a regular file (created if absent). A pipe, device or socket
    is refused with E321: opening a pipe for writing blocks until a reader comes. The open itself is
    non-blocking and the kind is checked again on the open descriptor, so a path swapped for a pipe
    in between cannot hang the build either."""
    problem = check_readable(Path(path), "write")
    if problem is None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: a pipe nobody reads (it appeared after the check)
                raise fail("E505", f"cannot write the event log {path}: {exc.strerror or exc}", NO_SPAN,
                           help="give --events a writable file path") from None
            problem = "a pipe"
        else:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.set_blocking(fd, True)
                return fd
            os.close(fd)
            problem = "not a regular file"
    raise fail("E321", f"the event log `{path}` is {problem}", NO_SPAN,
               help="give --events a regular file (it is appended to) or a new path")
