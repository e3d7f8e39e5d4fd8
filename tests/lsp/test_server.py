"""`synthc lsp` end to end: a real LSP client (pytest-lsp) starts the server over stdio and drives
it through initialize, didOpen/didChange, diagnostics, hover, completion, definition, references,
rename, formatting, outline, folding, tokens, code actions, inlay hints and shutdown.

The recipes are data files under tests/lsp/recipes; edits are made in the client, never on disk.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from conftest import ROOT
from synthc.compiler import compile_text
from synthc.compiler.diagnostics import render_json

RECIPES = os.path.join(ROOT, "tests", "lsp", "recipes")
pytestmark = pytest.mark.asyncio(loop_scope="module")


def _uri(name: str) -> str:
    return "file://" + os.path.join(RECIPES, name)


def _read(name: str) -> str:
    with open(os.path.join(RECIPES, name), encoding="utf-8") as fh:
        return fh.read()


def _pos(text: str, needle: str, delta: int = 0) -> lsp.Position:
    offset = text.index(needle) + delta
    line = text.count("\n", 0, offset)
    return lsp.Position(line, offset - (text.rfind("\n", 0, offset) + 1))


# `--set count=9` is the command line's override; the client's initializationOptions (count=3) win.
@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "synthc", "lsp", "--set", "count=9"]))
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=lsp.ClientCapabilities(
            text_document=lsp.TextDocumentClientCapabilities(
                completion=lsp.CompletionClientCapabilities(completion_item=lsp.ClientCompletionItemOptions(
                    snippet_support=True, documentation_format=[lsp.MarkupKind.Markdown, lsp.MarkupKind.PlainText])),
                hover=lsp.HoverClientCapabilities(content_format=[lsp.MarkupKind.Markdown]),
                rename=lsp.RenameClientCapabilities(prepare_support=True),
                publish_diagnostics=lsp.PublishDiagnosticsClientCapabilities(related_information=True),
                document_symbol=lsp.DocumentSymbolClientCapabilities(hierarchical_document_symbol_support=True),
            ),
            workspace=lsp.WorkspaceClientCapabilities(workspace_edit=lsp.WorkspaceEditClientCapabilities()),
        ),
        root_uri="file://" + RECIPES,
        initialization_options={"set": {"count": "3"}},
    ))
    yield
    await lsp_client.shutdown_session()


async def _open(client: LanguageClient, name: str, text: str | None = None) -> str:
    uri = _uri(name)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri, "synth", 1, _read(name) if text is None else text)))
    await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri


async def _replace(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=uri, version=version), [lsp.TextDocumentContentChangeWholeDocument(text)]))
    await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)


async def _until(client: LanguageClient, ready: Callable[[], bool]) -> None:
    """Wait for diagnostics until `ready()` (several recipes publish in turn)."""
    for _ in range(20):
        if ready():
            return
        await asyncio.wait_for(client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 10)
    assert ready()


def _labels(items: list[lsp.CompletionItem] | lsp.CompletionList | None) -> list[str]:
    if isinstance(items, lsp.CompletionList):
        items = items.items
    return [i.label for i in items or []]


async def test_clean_recipe_has_no_diagnostics_and_a_typo_has_the_checkers(client: LanguageClient) -> None:
    uri = await _open(client, "reviews.synth")
    assert list(client.diagnostics[uri]) == []
    text = _read("reviews.synth").replace("labels    = sentiment", "labels    = sentimnt")
    await _replace(client, uri, text, 2)
    (d,) = client.diagnostics[uri]
    expected = json.loads(render_json(compile_text(text, os.path.join(RECIPES, "reviews.synth")).diagnostics,
                                      compile_text(text, os.path.join(RECIPES, "reviews.synth")).sources))
    assert (d.code, d.range.start.line + 1, d.range.start.character + 1) == (expected["code"], expected["line"], expected["column"])
    assert d.message.startswith("undefined labels `sentimnt`") and "help: did you mean `sentiment`?" in d.message
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        lsp.TextDocumentIdentifier(uri), d.range, lsp.CodeActionContext([d])))
    (fix,) = actions or []
    assert isinstance(fix, lsp.CodeAction) and fix.edit is not None
    assert [e.new_text for e in fix.edit.changes[uri]] == ["sentiment"]
    await _replace(client, uri, _read("reviews.synth"), 3)
    assert list(client.diagnostics[uri]) == []


async def test_half_typed_text_gets_syntax_diagnostics_and_answers(client: LanguageClient) -> None:
    uri = await _open(client, "scratch.synth", 'model m {\n  gguf = builtin("smollm2-135m")\n  mode = \n')
    codes = [d.code for d in client.diagnostics[uri]]
    assert codes and all(str(c).startswith("E0") for c in codes)
    items = await client.text_document_completion_async(lsp.CompletionParams(
        lsp.TextDocumentIdentifier(uri), lsp.Position(2, 9)))
    assert _labels(items) == ["chat", "completion"]
    hover = await client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(uri), lsp.Position(2, 3)))
    assert hover is None or isinstance(hover.contents, lsp.MarkupContent)
    assert not [m for m in client.log_messages if m.type == lsp.MessageType.Error]


async def test_duplicates_carry_the_other_end(client: LanguageClient) -> None:
    text = 'param a = 1\nparam a = 2\n'
    uri = await _open(client, "dup.synth", text)
    (d,) = client.diagnostics[uri]
    assert d.code == "E102" and d.range.start.line == 1
    (rel,) = d.related_information or []
    assert rel.location.uri == uri and rel.location.range.start.line == 0 and rel.message == "first defined here"


async def test_hover(client: LanguageClient) -> None:
    uri = await _open(client, "reviews.synth")
    text = _read("reviews.synth")

    async def hover_at(needle: str, delta: int = 0) -> str:
        h = await client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(uri), _pos(text, needle, delta)))
        assert h is not None and isinstance(h.contents, lsp.MarkupContent)
        return h.contents.value

    assert "rows per label (classification)" in await hover_at("per_label =")  # docs/language.md's row
    labels = await hover_at("= sentiment", 3)
    assert "`positive`: a glowing review" in labels and "`negative`: a scathing review" in labels
    assert "**param count** = 3" in await hover_at("= count", 3)  # after the --set override
    model = await hover_at("= small", 3)
    assert "smollm2-135m" in model and "size:" in model
    task = await hover_at("task reviews", 6)
    assert "`plain`: 6 requests" in task and "`shots`: 6 requests" in task  # 2 labels x count 3
    assert "**seed.title**" in await hover_at("seed.title", 6)


async def test_completion(client: LanguageClient) -> None:
    uri = await _open(client, "reviews.synth")
    text = _read("reviews.synth")

    async def complete_at(new_text: str, needle: str, delta: int, version: int) -> list[str]:
        await _replace(client, uri, new_text, version)
        items = await client.text_document_completion_async(lsp.CompletionParams(
            lsp.TextDocumentIdentifier(uri), _pos(new_text, needle, delta)))
        return _labels(items)

    top = await complete_at(text + "\n", "export reviews", 0, 10)
    assert {"model", "labels", "task", "param", "import"} <= set(top)
    inside = await complete_at(text.replace("  per_label = count\n", "  per_label = count\n  \n"), "  \n", 2, 11)
    assert {"persona", "fewshot", "retrieve", "vary"} <= set(inside) and not {"labels", "per_label"} & set(inside)
    refs = await complete_at(text.replace("model     = small", "model     = "), "model     = ", 12, 12)
    assert refs == ["small"]
    # Inside the shared task prompt: the scope of variant `plain` (no few-shot, so no `demos`).
    in_task = await complete_at(text.replace("{{ seed.text }}", "{{ se }}"), "{{ se }}", 5, 13)
    assert "seed" in in_task and "verbalization" in in_task and "demos" not in in_task
    fields = await complete_at(text.replace("{{ seed.text }}", "{{ seed. }}"), "{{ seed. }}", 8, 14)
    assert fields == ["id", "text", "label", "title"]
    in_variant = await complete_at(text.replace("{{ demos }}", "{{ d }}"), "{{ d }}", 4, 15)
    assert "demos" in in_variant and "examples" in in_variant
    demo = await complete_at(text.replace("{{ example.text }}", "{{ example. }}"), "{{ example. }}", 11, 16)
    assert demo == ["id", "text", "label", "title"]
    # `dialect = ` offers the registered dialects with their docs (compiler/dialects.py).
    served = text + '\nmodel served {\n  endpoint = "http://127.0.0.1:1/v1"\n  dialect  = \n}\n'
    await _replace(client, uri, served, 17)
    items = await client.text_document_completion_async(lsp.CompletionParams(
        lsp.TextDocumentIdentifier(uri), _pos(served, "dialect  = ", 11)))
    items = items.items if isinstance(items, lsp.CompletionList) else items
    docs = {i.label: i.documentation for i in items or []}
    assert list(docs) == ["llama_cpp", "vllm", "sglang", "ollama", "openai"] and "GBNF" in str(docs["llama_cpp"])
    await _replace(client, uri, text, 18)


async def test_definition_references_and_rename_across_files(client: LanguageClient) -> None:
    uri = await _open(client, "reviews.synth")
    text = _read("reviews.synth")
    doc = lsp.TextDocumentIdentifier(uri)
    loc = await client.text_document_definition_async(lsp.DefinitionParams(doc, _pos(text, "= sentiment", 4)))
    assert isinstance(loc, lsp.Location) and loc.uri == _uri("common.synth") and loc.range.start.line == 1
    refs = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=doc, position=_pos(text, "= count", 2), context=lsp.ReferenceContext(include_declaration=True)))
    assert sorted((r.range.start.line, r.range.start.character) for r in refs or []) == [(2, 6), (14, 14), (27, 38)]
    edit = await client.text_document_rename_async(lsp.RenameParams(doc, _pos(text, "= sentiment", 4), "mood"))
    assert edit is not None and edit.changes is not None
    assert {u: [(e.range.start.line, e.new_text) for e in es] for u, es in edit.changes.items()} == {
        uri: [(11, "mood")], _uri("common.synth"): [(1, "mood")]}
    variant = await client.text_document_rename_async(lsp.RenameParams(doc, _pos(text, "variant plain", 8), "bare"))
    assert variant is not None and sorted(e.range.start.line for e in variant.changes[uri]) == [22, 33]


async def test_an_edit_to_an_import_rechecks_its_importers(client: LanguageClient) -> None:
    reviews = await _open(client, "reviews.synth")
    common = await _open(client, "common.synth")
    text = _read("common.synth").replace("labels sentiment", "labels mood")
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=common, version=2), [lsp.TextDocumentContentChangeWholeDocument(text)]))
    await _until(client, lambda: [d.code for d in client.diagnostics[reviews]] == ["E101"])
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=common, version=3),
        [lsp.TextDocumentContentChangeWholeDocument(_read("common.synth"))]))
    await _until(client, lambda: list(client.diagnostics[reviews]) == [])


async def test_formatting_is_synthc_fmt(client: LanguageClient) -> None:
    uri = await _open(client, "messy.synth")
    edits = await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        lsp.TextDocumentIdentifier(uri), lsp.FormattingOptions(tab_size=2, insert_spaces=True)))
    (edit,) = edits or []
    from synthc.compiler.diagnostics import Sink
    from synthc.compiler.fmt import fmt
    from synthc.compiler.parse import parse
    from synthc.compiler.source import SourceFile

    source = SourceFile.of("messy.synth", _read("messy.synth"))
    assert edit.new_text == fmt(parse(source, 0, Sink()), source)  # type: ignore[arg-type]
    ranged = await client.text_document_range_formatting_async(lsp.DocumentRangeFormattingParams(
        lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(2, 0), lsp.Position(2, 5)),
        lsp.FormattingOptions(tab_size=2, insert_spaces=True)))
    (one,) = ranged or []
    assert one.range.start.line == 2 and one.new_text == 'labels l {\n  a = "A"\n  b = "B"\n}'


async def test_outline_folding_tokens_and_hints(client: LanguageClient) -> None:
    uri = await _open(client, "reviews.synth")
    doc = lsp.TextDocumentIdentifier(uri)
    symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(doc))
    names = [s.name for s in symbols or [] if isinstance(s, lsp.DocumentSymbol)]
    assert names == ["common.synth", "count", "seeds", "reviews", "reviews"]
    task = [s for s in symbols or [] if isinstance(s, lsp.DocumentSymbol) and s.detail == "task"][0]
    assert [c.name for c in task.children or []] == ["fewshot", "plain", "shots"]
    folds = await client.text_document_folding_range_async(lsp.FoldingRangeParams(doc))
    assert (10, 29) in [(f.start_line, f.end_line) for f in folds or []]
    tokens = await client.text_document_semantic_tokens_full_async(lsp.SemanticTokensParams(doc))
    assert tokens is not None and len(tokens.data) % 5 == 0 and list(tokens.data[:5]) == [0, 0, 6, 0, 0]  # `import` keyword
    hints = await client.text_document_inlay_hint_async(lsp.InlayHintParams(
        doc, lsp.Range(lsp.Position(0, 0), lsp.Position(40, 0))))
    assert sorted((h.position.line, h.label) for h in hints or []) == [(22, "6 requests"), (26, "6 requests")]


async def test_extends_completes_hovers_and_navigates(client: LanguageClient) -> None:
    uri = await _open(client, "twins.synth")
    text = _read("twins.synth")
    doc = lsp.TextDocumentIdentifier(uri)
    assert list(client.diagnostics[uri]) == []
    loc = await client.text_document_definition_async(lsp.DefinitionParams(doc, _pos(text, "= base", 3)))
    assert isinstance(loc, lsp.Location) and loc.uri == uri and loc.range.start.line == text[:text.index("variant base")].count("\n")
    h = await client.text_document_hover_async(lsp.HoverParams(doc, _pos(text, "= base", 3)))
    assert h is not None and "**variant base** of task `twins`" in h.contents.value  # type: ignore[union-attr]
    twin = await client.text_document_hover_async(lsp.HoverParams(doc, _pos(text, "variant twin", 9)))
    assert twin is not None and "extends `base`" in twin.contents.value  # type: ignore[union-attr]
    key = await client.text_document_hover_async(lsp.HoverParams(doc, _pos(text, "extends =", 2)))
    assert key is not None and "same task" in key.contents.value  # type: ignore[union-attr]
    renamed = await client.text_document_rename_async(lsp.RenameParams(doc, _pos(text, "variant base", 9), "root"))
    assert renamed is not None and sorted(e.range.start.line for e in renamed.changes[uri]) == [13, 18]
    with pytest.raises(Exception):  # `extends = NAME` needs a name, not any string
        await client.text_document_rename_async(lsp.RenameParams(doc, _pos(text, "variant base", 9), "not a name"))
    await _replace(client, uri, text.replace("extends = base", "extends = "), 2)
    items = await client.text_document_completion_async(lsp.CompletionParams(doc, _pos(text, "= base", 2)))
    assert _labels(items) == ["base"]  # the task's other variants, not itself
    await _replace(client, uri, text.replace("extends = base", "extends = bsae"), 3)
    assert [d.code for d in client.diagnostics[uri]] == ["E220"]
    await _replace(client, uri, text, 4)
