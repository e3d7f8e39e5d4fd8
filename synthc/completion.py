"""`synthc completion bash|zsh|fish`: a shell completion script, generated from the CLI's own
argument parser (commands, options, choices, which arguments are recipes, files or codes), so it
cannot drift from the CLI. No runtime dependency and nothing to install but the printed script.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass

__all__ = ["SHELLS", "script"]

SHELLS = ("bash", "zsh", "fish")
_FILE_VALUES = {"out", "events", "real", "train", "log_file", "stdin_filename"}  # options whose value is a path


@dataclass(frozen=True, slots=True)
class _Option:
    flags: tuple[str, ...]
    help: str
    choices: tuple[str, ...]
    takes_value: bool
    file: bool


@dataclass(frozen=True, slots=True)
class _Command:
    name: str
    help: str
    options: tuple[_Option, ...]
    positional: str  # "synth" | "file" | "code" | "choice" | "target" | ""
    choices: tuple[str, ...]  # the positional's choices ("choice")


def _commands(parser: argparse.ArgumentParser) -> list[_Command]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    out = []
    for name, p in sub.choices.items():
        options, positional, choices = [], "", ()
        for a in p._actions:
            if a.option_strings:
                options.append(_Option(tuple(a.option_strings), (a.help or "").replace("%(default)s", str(a.default)),
                                       tuple(map(str, a.choices or ())), a.nargs != 0, a.dest in _FILE_VALUES))
            elif a.dest in ("spec", "files"):
                positional = "synth"
            elif a.dest == "target":  # `synthc doctor`: a recipe, a GGUF file, a builtin model or a URL
                positional = "target"
            elif a.dest in ("data", "datasets"):
                positional = "file"
            elif a.dest == "code":
                positional = "code"
            elif a.choices:
                positional, choices = "choice", tuple(map(str, a.choices))
        out.append(_Command(name, helps.get(name, ""), tuple(options), positional, choices))
    return out


def _builtins() -> list[str]:
    from synthc.compiler.schema import BUILTIN_MODELS

    return sorted(BUILTIN_MODELS)


def _codes() -> str:
    from synthc.compiler.codes import CODES

    return " ".join(c.id for c in CODES.values() if not c.retired)


def _words(items: list[str] | tuple[str, ...]) -> str:
    return shlex.quote(" ".join(items))


def _bash(cmds: list[_Command]) -> str:
    lines = [
        "# synthc completion for bash. Load it with:  source <(synthc completion bash)",
        "_synthc() {",
        '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd="${COMP_WORDS[1]}"',
        "  COMPREPLY=()",
        "  if [[ $COMP_CWORD -eq 1 ]]; then",
        f"    COMPREPLY=($(compgen -W {_words([c.name for c in cmds] + ['--help', '--version'])} -- \"$cur\"))",
        "    return",
        "  fi",
        '  case "$cmd" in',
    ]
    for c in cmds:
        lines.append(f"    {c.name})")
        lines.append('      case "$prev" in')
        for o in c.options:
            if not o.takes_value:
                continue
            pattern = "|".join(o.flags)
            if o.choices:
                lines.append(f"        {pattern}) COMPREPLY=($(compgen -W {_words(o.choices)} -- \"$cur\")); return ;;")
            elif o.file:
                lines.append(f"        {pattern}) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;")
            else:
                lines.append(f"        {pattern}) return ;;")
        lines.append("      esac")
        flags = [f for o in c.options for f in o.flags]
        lines.append(f"      if [[ \"$cur\" == -* ]]; then COMPREPLY=($(compgen -W {_words(flags)} -- \"$cur\")); return; fi")
        if c.positional == "synth":
            lines.append("      COMPREPLY=($(compgen -f -X '!*.synth' -- \"$cur\") $(compgen -d -- \"$cur\")) ;;")
        elif c.positional == "file":
            lines.append("      COMPREPLY=($(compgen -f -- \"$cur\")) ;;")
        elif c.positional == "target":
            lines.append("      COMPREPLY=($(compgen -f -X '!*.synth' -- \"$cur\") $(compgen -f -X '!*.gguf' -- \"$cur\") "
                         f"$(compgen -d -- \"$cur\") $(compgen -W {_words(_builtins())} -- \"$cur\")) ;;")
        elif c.positional == "code":
            lines.append(f"      COMPREPLY=($(compgen -W {_words([_codes()])} -- \"$cur\")) ;;")
        elif c.positional == "choice":
            lines.append(f"      COMPREPLY=($(compgen -W {_words(c.choices)} -- \"$cur\")) ;;")
        else:
            lines.append("      ;;")
    lines += ["  esac", "}", "complete -o filenames -o bashdefault -F _synthc synthc", ""]
    return "\n".join(lines)


def _zsh(cmds: list[_Command]) -> str:
    # zsh runs bash completion functions through bashcompinit, which ships with zsh.
    return ("#compdef synthc\n"
            "# synthc completion for zsh. Install with:  synthc completion zsh > \"${fpath[1]}/_synthc\"\n"
            "# (or, for this shell only:  source <(synthc completion zsh))\n"
            "autoload -U +X compinit && compinit\n"
            "autoload -U +X bashcompinit && bashcompinit\n" + _bash(cmds).split("\n", 1)[1])


def _fish_str(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(cmds: list[_Command]) -> str:
    names = " ".join(c.name for c in cmds)
    lines = ["# synthc completion for fish. Install with:",
             "#   synthc completion fish > ~/.config/fish/completions/synthc.fish",
             "complete -c synthc -f"]
    for c in cmds:
        lines.append(f"complete -c synthc -n 'not __fish_seen_subcommand_from {names}' -a {c.name} -d {_fish_str(c.help)}")
    for c in cmds:
        cond = f"-n '__fish_seen_subcommand_from {c.name}'"
        for o in c.options:
            spec = " ".join(f"-l {f[2:]}" if f.startswith("--") else f"-s {f[1:]}" for f in o.flags)
            extra = (f" -x -a {_fish_str(' '.join(o.choices))}" if o.choices else
                     " -r -F" if o.file else " -x" if o.takes_value else "")
            lines.append(f"complete -c synthc {cond} {spec}{extra} -d {_fish_str(o.help)}")
        if c.positional == "synth":
            lines.append(f"complete -c synthc {cond} -k -a '(__fish_complete_suffix .synth)'")
        elif c.positional == "file":
            lines.append(f"complete -c synthc {cond} -F")
        elif c.positional == "target":
            lines.append(f"complete -c synthc {cond} -k -a '(__fish_complete_suffix .synth; __fish_complete_suffix .gguf)'")
            lines.append(f"complete -c synthc {cond} -x -a {_fish_str(' '.join(_builtins()))}")
        elif c.positional == "code":
            lines.append(f"complete -c synthc {cond} -x -a {_fish_str(_codes())}")
        elif c.positional == "choice":
            lines.append(f"complete -c synthc {cond} -x -a {_fish_str(' '.join(c.choices))}")
    return "\n".join(lines) + "\n"


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    cmds = _commands(parser)
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](cmds)
