"""What a recipe may touch: the one policy for every path a recipe names, used by the compiler (imports,
sources, corpora, models, exports, reports) and by the runtime before it opens a file.

A recipe is code that people share in git, so like Cargo or dbt it works inside its project:

- The project root is the nearest folder, from the recipe's own upwards, that holds `synth.toml`;
  else the root of the git work tree the recipe is in; else the recipe's own folder.
- Every path resolves (symlinks included, `..` included) inside the project root or inside a folder
  the user allowed: `--allow-path DIR` on the command line, or `allow = ["DIR", …]` under `[paths]`
  in `synth.toml` (relative to that file). Anything else is E320 at the path's line and column.
- What is read must be a regular file (or a folder, for a folder of text documents): a device or a
  pipe is E321, so `import "/dev/stdin"` cannot block and `/dev/zero` cannot fill memory. Recipe
  files are read with a size limit (E013).

See docs/security.md.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from synthc.compiler.diagnostics import Diagnostic, Sink
from synthc.compiler.limits import MAX_SOURCE_CHARS
from synthc.compiler.source import NO_SPAN, Span

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.compiler.check import Checked

__all__ = ["Policy", "PROJECT_FILE", "policy_for", "resolve_path", "check_readable", "read_recipe", "ReadError",
           "check_paths", "recheck", "FileUse", "touched"]

PROJECT_FILE = "synth.toml"
_BY_SETTINGS = f"the folder of {PROJECT_FILE}"

# read: data or a model (a file or a folder: whether the kind fits is E410's, compiler/inputs.py);
# import: a recipe file only; write: a file; folder: a report folder.
Mode = Literal["read", "import", "write", "folder"]


@dataclass(frozen=True, slots=True)
class Policy:
    """The folders a recipe may touch (all resolved: no symlinks, absolute)."""

    root: Path
    why: str  # how the root was found, in words: the folder of synth.toml, of .git, or the recipe's
    allowed: tuple[Path, ...] = ()
    settings: Path | None = None  # the synth.toml that was read, if any

    def permits(self, path: Path) -> bool:
        return any(_inside(path, d) for d in (self.root, *self.allowed))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(os.path.abspath(path)))


def project_root(recipe: str) -> tuple[Path, str]:
    """The project root of `recipe` and how it was found (see the module docstring)."""
    start = _real(os.path.dirname(os.path.abspath(recipe)) or ".")
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder, _BY_SETTINGS
    for folder in (start, *start.parents):
        if (folder / ".git").exists():  # a folder, or a file in a linked worktree
            return folder, "the root of the git work tree"
    return start, "the recipe's own folder"


def policy_for(recipe: str, allow: tuple[str, ...] | list[str] = (), sink: Sink | None = None) -> Policy:
    """The policy for `recipe`: its project root, `--allow-path` folders (relative to the current
    directory) and the `[paths] allow` list of its synth.toml. Problems with synth.toml go to `sink`."""
    root, why = project_root(recipe)
    allowed = [_real(a) for a in allow if "\0" not in a]
    settings = root / PROJECT_FILE if why == _BY_SETTINGS else None
    if settings is not None:
        allowed += [_real(root / a) for a in _read_allow(settings, sink) if "\0" not in a]
    return Policy(root, why, tuple(dict.fromkeys(allowed)), settings)


def _read_allow(settings: Path, sink: Sink | None) -> list[str]:
    import tomllib

    def bad(message: str) -> list[str]:
        if sink is not None:
            sink.error("E322", f"{settings}: {message}", NO_SPAN,
                       help='`[paths]` takes `allow = ["DIR", …]`, folders relative to synth.toml')
        return []

    try:
        with open(settings, "rb") as fh:
            data = tomllib.loads(fh.read(MAX_SOURCE_CHARS).decode("utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        return bad(f"cannot read it: {err}")
    except tomllib.TOMLDecodeError as err:
        return bad(f"not valid TOML: {err}")
    paths = data.get("paths", {})
    allow = paths.get("allow", []) if isinstance(paths, dict) else None
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        return bad("`[paths] allow` must be a list of folder names")
    return list(allow)


def _diagnostic(code: str, message: str, span: Span, label: str, help: str) -> Diagnostic:
    sink = Sink()
    sink.error(code, message, span, label, help=help)
    return sink.items[0]


def resolve_path(raw: str, base: str, policy: Policy, span: Span, mode: Mode = "read") -> Path | Diagnostic:
    """`raw` (as written in a recipe whose folder is `base`) resolved, or the diagnostic why it may
    not be used: E320 outside the project, E321 not a regular file. A path that does not exist yet
    is fine here (the runtime reports a missing input; an output is created)."""
    if "\0" in raw:  # realpath() and stat() raise on it: no file is named so
        shown = raw.replace("\0", "\\0")
        return _diagnostic("E321", f"`{shown}` is not a file name", span,
                           "contains a NUL character", "remove the NUL character")
    full = _real(os.path.join(base, raw))
    if not policy.permits(full):
        root = os.path.relpath(policy.root, _real(base or "."))
        plain = Path(os.path.normpath(os.path.join(_real(base or "."), raw)))  # before symlinks
        shown = full if os.path.isabs(raw) or plain != full else os.path.relpath(full, policy.root)
        return _diagnostic(
            "E320", f"`{raw}` is outside the project", span, f"resolves to {shown}",
            f"the project root is `{root}` ({policy.why}); move the file into it, or allow its folder "
            f"with `--allow-path DIR` or `[paths] allow` in {PROJECT_FILE}")
    # stat() the path as written: it follows links to the end, where realpath() cannot name a pipe
    # (/dev/stdin -> /proc/self/fd/0 -> "pipe:[…]").
    problem = check_readable(Path(os.path.join(base, raw)), mode)
    if problem is not None:
        return _diagnostic("E321", f"`{raw}` is {problem}", span, "not a regular file",
                           "name a regular file" + (" or a folder of text files" if mode == "folder" else ""))
    return full


def check_readable(path: Path, mode: Mode) -> str | None:
    """None if `path` is absent or of the right kind for `mode`, else what it is instead."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISREG(st.st_mode):
        return None
    if stat.S_ISDIR(st.st_mode):
        return "a folder" if mode in ("import", "write") else None
    kinds = {stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device", stat.S_ISFIFO: "a pipe",
             stat.S_ISSOCK: "a socket"}
    return next((what for test, what in kinds.items() if test(st.st_mode)), "not a regular file")


class ReadError(Exception):
    """Why a recipe file could not be read: `code` (E103, E013, E321) and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def read_recipe(path: str, regular_only: bool = True) -> str:
    """The text of a recipe file, at most MAX_SOURCE_CHARS characters. Opened without blocking and
    checked on the open descriptor (no race with a swapped path): a pipe or device is refused when
    `regular_only`, and an endless file stops at the limit."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise ReadError("E103", err.strerror or str(err)) from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ReadError("E321", "a folder, not a recipe file")
        if regular_only and not stat.S_ISREG(mode):
            raise ReadError("E321", "not a regular file (a device or a pipe)")
        if not stat.S_ISREG(mode):
            os.set_blocking(fd, True)  # a pipe the user named on purpose (`synthc check /dev/stdin`)
        data = fh.read(MAX_SOURCE_CHARS * 4 + 4)  # UTF-8 takes at most 4 bytes per character
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        if len(data) > MAX_SOURCE_CHARS * 4 and err.start >= len(data) - 4:
            text = data[: err.start].decode("utf-8")  # cut inside a character at the limit
        else:
            raise ReadError("E103", f"not UTF-8 text (byte {err.start})") from None
    if len(text) > MAX_SOURCE_CHARS:
        raise ReadError("E013", f"larger than {MAX_SOURCE_CHARS:,} characters (the limit for a recipe)")
    return text


# Declarations that name files: kind -> (field, mode). `format = "text"` sources read folders.
_DECLARED = {"source": ("path", "read"), "corpus": ("path", "read"), "model": ("gguf", "read"),
             "export": ("path", "write"), "evaluate": ("path", "folder")}


def check_paths(checked: Checked, policy: Policy, sink: Sink) -> None:
    """E320/E321 for every path a declaration names, at the path's line and column."""
    for kind, (key, mode) in _DECLARED.items():
        for values in checked.decls.get(kind, {}).values():
            raw = values.values.get(key)
            if isinstance(raw, tuple):  # a model's gguf: ("path", p) or ("builtin", name)
                raw = raw[1] if raw[0] == "path" else None
            if not isinstance(raw, str) or key not in values.spans:
                continue
            folder = values.values.get("format") == "text" or raw.endswith(("/", os.sep)) or mode == "folder"
            base = checked.resolved.file_dirs.get(values.origin.file, checked.resolved.main_dir)
            found = resolve_path(raw.replace("{variant}", "variant"), base, policy, values.spans[key],
                                 "folder" if folder else mode)
            if isinstance(found, Diagnostic):
                sink.items.append(found)


def recheck(program: ir.Program) -> list[Diagnostic]:
    """The policy applied again to a compiled program's paths, by the runtime just before it opens
    them: a symlink swapped or a folder moved between `synthc check` and `synthc build` is caught."""
    policy = program.policy
    if policy is None:
        return []
    found: list[Path | Diagnostic] = []
    for src in (*program.sources, *program.corpora):
        found.append(resolve_path(src.path, program.root, policy, src.origin, "folder" if src.format == "text" else "read"))
    for m in program.models:
        if m.gguf_kind == "path":
            found.append(resolve_path(m.gguf, program.root, policy, m.origin, "read"))
    for e in program.exports:
        found.append(resolve_path(e.path.replace("{variant}", "variant"), program.root, policy, e.origin, "write"))
    for ev in program.evaluations:
        found.append(resolve_path(ev.path, program.root, policy, ev.origin, "folder"))
    return [d for d in found if isinstance(d, Diagnostic)]


@dataclass(frozen=True, slots=True)
class FileUse:
    """One file a build reads or writes, for `synthc plan` (paths relative to the main recipe's folder)."""

    mode: Literal["read", "write"]
    path: str
    what: str


# What the runtime writes beside the declared outputs (runtime/steps/outputs.py, runtime/store/lock.py).
EXPORT_SIDECARS = ("manifest.json", "README.md")
REPORT_FILES = ("metrics.json", "report.html", "report.md", "figures/")
LOCK_SUFFIX = ".lock"  # a lock belongs to one recipe: quickstart.synth.lock (runtime/store/lock.py)


def touched(program: ir.Program, recipe_files: list[str]) -> tuple[FileUse, ...]:
    """Every file the build of `program` reads and writes: the recipe and its imports, project
    settings, data, models; exports with their manifest and card, reports, the lock file, the cache."""
    root = program.root
    rel = lambda p: os.path.normpath(os.path.relpath(p, root))  # noqa: E731
    out = [FileUse("read", rel(f), "recipe" if i == 0 else "import") for i, f in enumerate(recipe_files)]
    if program.policy is not None and program.policy.settings is not None:
        out.append(FileUse("read", rel(program.policy.settings), "project settings"))
    out += [FileUse("read", s.path, f"source {s.name}") for s in program.sources]
    out += [FileUse("read", c.path, f"corpus {c.name}") for c in program.corpora]
    out += [FileUse("read", m.gguf, f"model {m.name}") for m in program.models if m.gguf_kind == "path"]
    out += [FileUse("read", f"builtin:{m.gguf}", f"model {m.name}") for m in program.models if m.gguf_kind == "builtin"]
    for e in program.exports:
        paths = sorted({e.path.replace("{variant}", v) for v in e.variants} or {e.path})
        out += [FileUse("write", p, f"export {e.name}") for p in paths]
        folder = os.path.dirname(paths[0])
        out += [FileUse("write", os.path.join(folder, name), f"export {e.name}") for name in EXPORT_SIDECARS]
    for ev in program.evaluations:
        out += [FileUse("write", os.path.join(ev.path, name), f"evaluate {ev.name}") for name in REPORT_FILES]
    if recipe_files:
        out.append(FileUse("write", rel(recipe_files[0] + LOCK_SUFFIX), "lock file"))
    out.append(FileUse("write", ".synthc/", "cache"))
    return tuple(dict.fromkeys(out))
