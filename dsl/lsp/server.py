"""`kmap lsp`: the language server over stdio (pygls, the `lsp` extra).

The only module of the package that imports pygls: it keeps each open
document's last analysis (dsl/lsp/analysis.py) and answers the requests
with the pure functions of the other modules, converting positions
between the front end's code points and the client's units (UTF-16
unless the client offers another encoding).

Features: diagnostics on open and on every change (the parser's and the
checker's codes, messages with the `help:` hint, ranges); hover;
completion; go to definition; a quick fix for each did-you-mean.
While the text does not parse, completion and definition use the file
with the cursor's line blanked (a half-typed statement), or the last
text that parsed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import version

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from kmap_scenarios.dsl.lsp import hover as hovers
from kmap_scenarios.dsl.lsp.analysis import Analysis, Pos, Problem, Range, analyse, parse_only
from kmap_scenarios.dsl.lsp.complete import complete
from kmap_scenarios.dsl.lsp.index import Index, index
from kmap_scenarios.dsl.lsp.words import (before, followed_by_call, in_config, lines_of,
                                          member_of, word_at)
from kmap_scenarios.runtime.kernel import config

log = logging.getLogger(__name__)

NAME = "kmap-lsp"

_KINDS = {
    "keyword": types.CompletionItemKind.Keyword,
    "type": types.CompletionItemKind.TypeParameter,
    "function": types.CompletionItemKind.Function,
    "constant": types.CompletionItemKind.Constant,
    "variable": types.CompletionItemKind.Variable,
    "property": types.CompletionItemKind.Property,
    "value": types.CompletionItemKind.EnumMember,
    "event": types.CompletionItemKind.Event,
    "module": types.CompletionItemKind.Module,
    "label": types.CompletionItemKind.Reference,
}


@dataclass
class Doc:
    """What the server keeps of an open document."""

    analysis: Analysis
    last_good: Index | None   # the index of the last text that parsed


class KmapServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(NAME, version("kmap-scenarios"))
        self.docs: dict[str, Doc] = {}


server = KmapServer()


# ---------------------------------------------------------------- positions


def to_client(doc: TextDocument, lines: list[str], pos: Pos) -> types.Position:
    line = lines[pos.line] if pos.line < len(lines) else ""
    return types.Position(pos.line, doc.position_codec.client_num_units(line[:pos.col]))


def range_to_client(doc: TextDocument, lines: list[str], rng: Range) -> types.Range:
    return types.Range(to_client(doc, lines, rng.start), to_client(doc, lines, rng.end))


def from_client(doc: TextDocument, position: types.Position) -> Pos:
    p = doc.position_codec.position_from_client_units(doc.lines, position)
    return Pos(p.line, p.character)


# -------------------------------------------------------------- diagnostics


def _path(uri: str) -> str:
    return uri.rsplit("/", 1)[-1] or uri


def refresh(ls: KmapServer, uri: str) -> None:
    """Analyse the document and publish its diagnostics."""
    doc = ls.workspace.get_text_document(uri)
    try:
        analysis = analyse(doc.source, _path(uri))
    except Exception:   # a bug of ours: say so in the log, keep serving
        log.exception("kmap-lsp: analysing %s failed", uri)
        return
    old = ls.docs.get(uri)
    good = index(analysis.file) if analysis.file is not None else (old.last_good if old else None)
    ls.docs[uri] = Doc(analysis, good)
    lines = lines_of(doc.source)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
        uri=uri, version=doc.version,
        diagnostics=[_diagnostic(doc, lines, p) for p in analysis.problems]))


def _diagnostic(doc: TextDocument, lines: list[str], p: Problem) -> types.Diagnostic:
    return types.Diagnostic(range=range_to_client(doc, lines, p.range), message=p.message,
                            severity=types.DiagnosticSeverity.Error,
                            code=p.diagnostic.code, source="kmap")


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: KmapServer, params: types.DidOpenTextDocumentParams) -> None:
    refresh(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: KmapServer, params: types.DidChangeTextDocumentParams) -> None:
    refresh(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: KmapServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.docs.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


# --------------------------------------------------------------- the index


def index_at(ls: KmapServer, uri: str, doc: TextDocument, pos: Pos) -> Index | None:
    """The index for a request at ``pos``: of the text if it parses, else of
    the text without the cursor's line, else of the last text that parsed."""
    kept = ls.docs.get(uri)
    if kept is not None and kept.analysis.text == doc.source and kept.analysis.file is not None:
        return index(kept.analysis.file)
    lines = lines_of(doc.source)
    if pos.line < len(lines):
        blanked = lines[:pos.line] + [""] + lines[pos.line + 1:]
        tree = parse_only("\n".join(blanked), _path(uri))
        if tree is not None:
            return index(tree)
    return kept.last_good if kept is not None else None


# ---------------------------------------------------------------- requests


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: KmapServer, params: types.HoverParams) -> types.Hover | None:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    lines = lines_of(doc.source)
    pos = from_client(doc, params.position)
    found = word_at(lines, pos)
    if found is None:
        return None
    word, rng = found
    text = _hover_text(ls, params.text_document.uri, doc, lines, pos, word, rng)
    if text is None:
        return None
    return types.Hover(contents=types.MarkupContent(types.MarkupKind.Markdown, text),
                       range=range_to_client(doc, lines, rng))


def _hover_text(ls: KmapServer, uri: str, doc: TextDocument, lines: list[str], pos: Pos,
                word: str, rng: Range) -> str | None:
    if in_config(before(lines, rng.start)):
        if word in config.KEYS:
            return hovers.config_key(word)
        value = hovers.config_value(word)
        if value is not None:
            return value
    call = followed_by_call(lines, rng)
    idx = index_at(ls, uri, doc, pos)
    if idx is not None and not call:
        task = member_of(lines, rng)
        sym = idx.member(task, word) if task is not None else idx.resolve(word, pos)
        if sym is not None:
            return hovers.symbol(sym)
    if idx is not None and call:
        sym = idx.resolve(word, pos)
        if sym is not None and sym.kind == "function":
            return hovers.symbol(sym)
    return hovers.word(word, call)


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def definition(ls: KmapServer, params: types.DefinitionParams) -> types.Location | None:
    uri = params.text_document.uri
    doc = ls.workspace.get_text_document(uri)
    lines = lines_of(doc.source)
    pos = from_client(doc, params.position)
    found = word_at(lines, pos)
    idx = index_at(ls, uri, doc, pos)
    if found is None or idx is None:
        return None
    word, rng = found
    task = member_of(lines, rng)
    sym = idx.member(task, word) if task is not None else idx.resolve(word, pos)
    if sym is None:
        return None
    return types.Location(uri=uri, range=range_to_client(doc, lines, sym.at))


@server.feature(types.TEXT_DOCUMENT_COMPLETION,
                types.CompletionOptions(trigger_characters=["."]))
def completion(ls: KmapServer, params: types.CompletionParams) -> types.CompletionList:
    uri = params.text_document.uri
    doc = ls.workspace.get_text_document(uri)
    pos = from_client(doc, params.position)
    items = complete(lines_of(doc.source), pos, index_at(ls, uri, doc, pos))
    return types.CompletionList(is_incomplete=False, items=[
        types.CompletionItem(
            label=i.label, kind=_KINDS[i.kind], detail=i.detail,
            documentation=types.MarkupContent(types.MarkupKind.Markdown, i.doc) if i.doc else None)
        for i in items])


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
def code_action(ls: KmapServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """A quick fix for each did-you-mean whose diagnostic meets the range."""
    uri = params.text_document.uri
    kept = ls.docs.get(uri)
    doc = ls.workspace.get_text_document(uri)
    if kept is None or kept.analysis.text != doc.source:
        return []
    lines = lines_of(doc.source)
    want = Range(from_client(doc, params.range.start), from_client(doc, params.range.end))
    actions = []
    for p in kept.analysis.problems:
        if p.fix is None or p.range.end < want.start or want.end < p.range.start:
            continue
        edit = types.TextEdit(range=range_to_client(doc, lines, p.fix.range), new_text=p.fix.new)
        actions.append(types.CodeAction(
            title=p.fix.title, kind=types.CodeActionKind.QuickFix,
            diagnostics=[_diagnostic(doc, lines, p)], is_preferred=True,
            edit=types.WorkspaceEdit(changes={uri: [edit]})))
    return actions


def main() -> int:
    """Serve on standard input and output until the client says exit."""
    server.start_io()
    return 0
