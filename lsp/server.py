"""`synthc lsp`: the language server over stdio (pygls).

Every request runs inside `_guarded`: an exception in the compiler or in a feature becomes an
error in the client's log and an empty answer, never a dead server. Diagnostics are published
after each change for the edited recipe and for every open recipe that imports it.
"""

from __future__ import annotations

import functools
import logging
import os
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from synthc.lsp import actions, complete, diagnostics, formatting, hover, navigate, tokens
from synthc.lsp.workspace import Analysis, Workspace

__all__ = ["server", "serve"]

VERSION = "0.1.0"
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("synthc.lsp")


class SynthServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("synthc", VERSION)
        self.ws = Workspace()

    def path(self, uri: str) -> str:
        return os.path.abspath(to_fs_path(uri) or uri)

    def text(self, uri: str) -> str:
        return self.workspace.get_text_document(uri).source

    def analysis(self, uri: str) -> Analysis:
        """The current analysis of a recipe (made now for a file the client has not opened)."""
        path = self.path(uri)
        a = self.ws.analyses.get(path)
        stale = a is not None and path in self.ws.docs and a.stages.sources.files[0].text != self.ws.docs[path]
        return self.ws.analyse(path) if a is None or stale else a

    def offset(self, uri: str, pos: lsp.Position) -> int:
        return self.analysis(uri).text(0).offset(pos)

    def at(self, uri: str, pos: lsp.Position) -> tuple[Analysis, int]:
        a = self.analysis(uri)
        return a, a.text(0).offset(pos)

    def within(self, uri: str, rng: lsp.Range) -> tuple[Analysis, int, int]:
        a = self.analysis(uri)
        return a, a.text(0).offset(rng.start), a.text(0).offset(rng.end)

    def refresh(self, path: str) -> None:
        """Re-analyse `path` (if open) and every open recipe that imports it; publish diagnostics."""
        targets = [path] if path in self.ws.docs else []
        targets += [p for p in self.ws.importers(path) if p != path]
        for p in targets:
            try:
                a = self.ws.analyse(p)
                found = diagnostics.to_lsp(a)
            except Exception:  # noqa: BLE001 - a compiler bug must not kill the server
                self.log_error(f"analysing {p}")
                continue
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(from_fs_path(p) or p, found))

    def markdown_docs(self) -> bool:
        """Whether the client renders markdown in completion documentation."""
        caps = self.client_capabilities.text_document
        item = caps.completion.completion_item if caps and caps.completion else None
        return bool(item and item.documentation_format and lsp.MarkupKind.Markdown in item.documentation_format)

    def log_error(self, what: str) -> None:
        message = f"synthc lsp: error while {what}:\n{traceback.format_exc()}"
        log.error(message)
        try:
            self.window_log_message(lsp.LogMessageParams(lsp.MessageType.Error, message))
        except Exception:  # noqa: BLE001 - the transport is gone; the log above has it
            pass


server = SynthServer()


def _guarded(default: Any = None) -> Callable[[F], F]:
    """Run a handler; on any exception log it to the client and answer `default`."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(params: Any) -> Any:
            try:
                return fn(params)
            except Exception:  # noqa: BLE001
                server.log_error(fn.__name__)
                return default

        return run  # type: ignore[return-value]

    return wrap


# -- lifecycle and documents --------------------------------------------------------------------

@server.feature(lsp.INITIALIZE)
@_guarded()
def initialize(params: lsp.InitializeParams) -> None:
    options = params.initialization_options or {}
    overrides = options.get("set") if isinstance(options, dict) else None
    if isinstance(overrides, dict):
        server.ws.overrides = {**server.ws.overrides, **{str(k): str(v) for k, v in overrides.items()}}
    encoding = server.workspace.position_encoding
    server.ws.encoding = str(getattr(encoding, "value", encoding) or "utf-16")


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
@_guarded()
def did_edit(params: lsp.DidOpenTextDocumentParams | lsp.DidChangeTextDocumentParams) -> None:
    """A buffer opened or changed: pygls has applied the change; take its text and re-check."""
    path = server.path(params.text_document.uri)
    server.ws.docs[path] = server.text(params.text_document.uri)
    server.refresh(path)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
@_guarded()
def did_save(params: lsp.DidSaveTextDocumentParams) -> None:
    server.refresh(server.path(params.text_document.uri))


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
@_guarded()
def did_close(params: lsp.DidCloseTextDocumentParams) -> None:
    path = server.path(params.text_document.uri)
    server.ws.docs.pop(path, None)
    server.ws.analyses.pop(path, None)
    server.ws.checked.pop(path, None)
    server.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(params.text_document.uri, []))
    server.refresh(path)  # importers now read it from disk


@server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
@_guarded()
def did_change_watched(params: lsp.DidChangeWatchedFilesParams) -> None:
    for change in params.changes:
        server.refresh(server.path(change.uri))


# -- features -----------------------------------------------------------------------------------

@server.feature(lsp.TEXT_DOCUMENT_HOVER)
@_guarded()
def on_hover(params: lsp.HoverParams) -> lsp.Hover | None:
    text = hover.hover(*server.at(params.text_document.uri, params.position))
    if not text:
        return None
    caps = server.client_capabilities.text_document
    formats = caps.hover.content_format if caps and caps.hover else None
    kind = lsp.MarkupKind.Markdown if formats and lsp.MarkupKind.Markdown in formats else lsp.MarkupKind.PlainText
    return lsp.Hover(lsp.MarkupContent(kind, text))


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[".", "{", " ", "="]))
@_guarded()
def on_completion(params: lsp.CompletionParams) -> lsp.CompletionList:
    uri = params.text_document.uri
    a, offset = server.at(uri, params.position)
    last = server.ws.checked.get(server.path(uri), a)
    items = complete.complete(server.text(uri), offset, last, server.markdown_docs())
    return lsp.CompletionList(is_incomplete=False, items=items)


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
@_guarded()
def on_definition(params: lsp.DefinitionParams) -> lsp.Location | None:
    return navigate.definition(*server.at(params.text_document.uri, params.position))


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
@_guarded(default=[])
def on_references(params: lsp.ReferenceParams) -> list[lsp.Location]:
    uri = params.text_document.uri
    return navigate.references(server.ws, server.path(uri), server.offset(uri, params.position),
                               params.context.include_declaration)


@server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
@_guarded()
def on_prepare_rename(params: lsp.PrepareRenameParams) -> lsp.Range | None:
    return navigate.prepare_rename(*server.at(params.text_document.uri, params.position))


@server.feature(lsp.TEXT_DOCUMENT_RENAME)
def on_rename(params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
    uri = params.text_document.uri
    try:
        return navigate.rename(server.ws, server.path(uri), server.offset(uri, params.position), params.new_name)
    except ValueError:
        raise  # an invalid new name: the client shows the message
    except Exception:  # noqa: BLE001
        server.log_error("on_rename")
        return None


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
@_guarded(default=[])
def on_symbols(params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
    return navigate.symbols(server.analysis(params.text_document.uri))


@server.feature(lsp.TEXT_DOCUMENT_FOLDING_RANGE)
@_guarded(default=[])
def on_folding(params: lsp.FoldingRangeParams) -> list[lsp.FoldingRange]:
    return navigate.folding(server.analysis(params.text_document.uri))


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
@_guarded()
def on_format(params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
    uri = params.text_document.uri
    return formatting.format_document(server.path(uri), server.text(uri), server.ws.encoding)


@server.feature(lsp.TEXT_DOCUMENT_RANGE_FORMATTING)
@_guarded()
def on_range_format(params: lsp.DocumentRangeFormattingParams) -> list[lsp.TextEdit] | None:
    uri = params.text_document.uri
    _, start, end = server.within(uri, params.range)
    return formatting.format_range(server.path(uri), server.text(uri), start, end, server.ws.encoding)


@server.feature(lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL,
                lsp.SemanticTokensLegend(token_types=tokens.LEGEND_TYPES, token_modifiers=tokens.LEGEND_MODIFIERS))
@_guarded()
def on_tokens(params: lsp.SemanticTokensParams) -> lsp.SemanticTokens:
    return lsp.SemanticTokens(data=tokens.tokens(server.analysis(params.text_document.uri)))


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
@_guarded(default=[])
def on_code_action(params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    return actions.code_actions(*server.within(params.text_document.uri, params.range))


@server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT)
@_guarded(default=[])
def on_inlay_hint(params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
    return actions.inlay_hints(*server.within(params.text_document.uri, params.range))


def serve(overrides: dict[str, str] | None = None, log_file: str | None = None) -> int:
    """Serve over stdin/stdout until the client exits; `overrides` as `--set` (the client's
    initializationOptions.set replaces them), the log to `log_file` if given."""
    if log_file:
        logging.basicConfig(filename=log_file, level=logging.INFO,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server.ws.overrides = dict(overrides or {})
    server.start_io()
    return 0
