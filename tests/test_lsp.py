"""The language server (`kmap lsp`, dsl/lsp/) driven over stdio by pytest-lsp's client.

The server runs as `python -m kmap_scenarios lsp`, the command a user's
editor starts. Every test opens a text, waits for the diagnostics the
server publishes, and asks what an editor would ask. Skipped where
pytest-lsp (the `test` extra) or pygls (the `lsp` extra) is missing.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

URI = "file:///work/demo.kmap"

# A scenario with one of each declaration, and two tasks sharing a local's name.
GOOD = """\
scenario "demo";
config { CONFIG_HIGHMEM = y; }
page P = alloc_page(GFP_HIGHUSER);
int shared = 0;

static int twice(int n)
{
    return n * 2;
}

task writer on cpu0 {
    int addr = kmap_local_page(P);
    {
        int addr = twice(1);
        shared = addr;
    }
    kunmap_local(addr);
}

task reader on cpu0 {
    int addr = 5;
    shared = addr;
}

expect always (writer.addr != 0);
"""


@pytest_lsp.fixture(config=ClientServerConfig(
    server_command=[sys.executable, "-m", "kmap_scenarios", "lsp"]))
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri="file:///work"))
    yield
    await lsp_client.shutdown_session()


async def _open(client: LanguageClient, text: str, uri: str = URI) -> list[types.Diagnostic]:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="kmap", version=1, text=text)))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return list(client.diagnostics[uri])


def _rng(line: int, col: int, end_line: int, end_col: int) -> types.Range:
    return types.Range(types.Position(line, col), types.Position(end_line, end_col))


def _at(text: str, needle: str, nth: int = 0, offset: int = 0) -> types.Position:
    """The position of the nth occurrence of needle in text, plus offset columns."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index)
    col = index - (text.rfind("\n", 0, index) + 1)
    return types.Position(line, col + offset)


# ---------------------------------------------------------------- diagnostics


TYPOS = """\
config { CONFIG_HIGHMEM = y; CONFIG_PREMPTION = n; }
page P = alloc_page(GFP_HIGHUSER);
task a {
    int addr = kmap_local_pag(P);
    kunmap_local(adr);
}
schedule ab;
"""


@pytest.mark.asyncio
async def test_diagnostics_carry_the_checkers_codes_messages_hints_and_ranges(
        client: LanguageClient) -> None:
    diags = await _open(client, TYPOS)
    got = [(d.code, d.source, d.severity, d.message, d.range) for d in diags]
    error = types.DiagnosticSeverity.Error
    assert got == [
        ("E301", "kmap", error,
         "unknown config key `CONFIG_PREMPTION`\nhelp: did you mean `CONFIG_PREEMPTION`?",
         _rng(0, 29, 0, 45)),
        ("E202", "kmap", error,
         "unknown function `kmap_local_pag`\nhelp: did you mean `kmap_local_page`?",
         _rng(3, 15, 3, 29)),
        ("E201", "kmap", error, "unknown name `adr`\nhelp: did you mean `addr`?",
         _rng(4, 17, 4, 20)),
        ("E203", "kmap", error, "unknown task `ab` in the schedule\nhelp: did you mean `a`?",
         _rng(6, 9, 6, 11)),
    ]


@pytest.mark.asyncio
async def test_a_change_republishes_syntax_errors_then_none(client: LanguageClient) -> None:
    assert await _open(client, GOOD) == []
    broken = GOOD.replace("int shared = 0;", "int shared = ;")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=URI, version=2),
        [types.TextDocumentContentChangeWholeDocument(text=broken)]))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    [diag] = client.diagnostics[URI]
    assert diag.code == "E101"
    assert diag.message.startswith("unexpected `;`: expected ")
    assert diag.range == _rng(3, 13, 3, 14)
    # an incremental change that puts the 0 back
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=URI, version=3),
        [types.TextDocumentContentChangePartial(range=_rng(3, 13, 3, 13), text="0")]))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[URI]) == []


@pytest.mark.asyncio
async def test_ranges_count_utf16_units(client: LanguageClient) -> None:
    # U+1F600 is two UTF-16 units: the range after it moves by one more
    text = 'task t {\n    /* \U0001F600 */ int x = y;\n}\n'
    [diag] = await _open(client, text)
    assert diag.code == "E201"
    assert diag.range == _rng(1, 21, 1, 22)   # y is code point 20


# ---------------------------------------------------------------------- hover


async def _hover(client: LanguageClient, pos: types.Position) -> str | None:
    result = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(URI), pos))
    if result is None:
        return None
    assert isinstance(result.contents, types.MarkupContent)
    return result.contents.value


@pytest.mark.asyncio
async def test_hover_of_a_builtin_is_its_reference_row(client: LanguageClient) -> None:
    await _open(client, GOOD)
    text = await _hover(client, _at(GOOD, "kmap_local_page", offset=3))
    assert text == (
        "```kmap\nkmap_local_page(page)\n```\n"
        "map a page in the task's kmap_local stack\n\n"
        "**value** int · **where** any (anywhere in a body) · **category** mapping\n\n"
        "`__kmap_local_page_prot()`: a fixmap slot for highmem (migration disabled while "
        "held), `page_address()` for lowmem unless FORCE_MAP; on ARM with "
        "ARCH_NEEDS_KMAP_HIGH_GET a page already in the pkmap pool is pinned instead; "
        "without HIGHMEM the PKS `pgmap_set_readwrite()`")


@pytest.mark.asyncio
async def test_hover_of_a_config_key_gives_values_defaults_and_meaning(
        client: LanguageClient) -> None:
    await _open(client, GOOD)
    assert await _hover(client, _at(GOOD, "CONFIG_HIGHMEM")) == (
        "**CONFIG_HIGHMEM** (config key) = y/n\n\nhighmem and the pkmap pool\n\n"
        "defaults: `x86` y, `x86_64` n, `arm` y")


@pytest.mark.asyncio
async def test_hover_of_constants_and_the_files_names(client: LanguageClient) -> None:
    await _open(client, GOOD)
    assert await _hover(client, _at(GOOD, "GFP_HIGHUSER")) == \
        "**GFP_HIGHUSER** (kernel constant) = 1051842 (`0x100cc2`)"
    assert await _hover(client, _at(GOOD, "twice(1)")) == \
        "```kmap\nint twice(int n)\n```\nfunction, declared at line 6"
    # the inner `addr` of writer, then the outer one after its block
    assert await _hover(client, _at(GOOD, "shared = addr", offset=10)) == \
        "```kmap\nint addr\n```\nlocal of writer, declared at line 14"
    assert await _hover(client, _at(GOOD, "kunmap_local(addr)", offset=14)) == \
        "```kmap\nint addr\n```\nlocal of writer, declared at line 12"
    assert await _hover(client, _at(GOOD, "  ", 0)) is None


# ------------------------------------------------------------------ completion


async def _complete(client: LanguageClient, text: str, pos: types.Position,
                    version: int = 2) -> dict[str, types.CompletionItem]:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=URI, version=version),
        [types.TextDocumentContentChangeWholeDocument(text=text)]))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(URI), pos))
    assert isinstance(result, types.CompletionList)
    return {item.label: item for item in result.items}


@pytest.mark.asyncio
async def test_completion_in_a_body_while_typing(client: LanguageClient) -> None:
    await _open(client, GOOD)
    # a half-typed statement in reader: the text does not parse
    text = GOOD.replace("    shared = addr;\n}\n\nexpect", "    kmap_lo\n    shared = addr;\n}\n\nexpect")
    items = await _complete(client, text, _at(text, "kmap_lo", offset=7))
    assert items["kmap_local_page"].kind == types.CompletionItemKind.Function
    assert items["kmap_local_page"].detail == "kmap_local_page(page)"
    assert items["addr"].detail == "int addr"     # reader's own
    assert items["P"].kind == types.CompletionItemKind.Variable
    assert items["twice"].detail == "int twice(int n)"
    assert items["shared"].detail == "int shared"
    assert items["GFP_KERNEL"].kind == types.CompletionItemKind.Constant
    assert items["while"].kind == types.CompletionItemKind.Keyword
    assert "n" not in items                        # twice's parameter
    assert "writer" not in items                   # tasks only in schedules and expectations
    assert "BUG" not in items                      # report kinds only in expectations


@pytest.mark.asyncio
async def test_completion_in_config_and_expectations(client: LanguageClient) -> None:
    await _open(client, GOOD)
    text = GOOD.replace("CONFIG_HIGHMEM = y;", "CONFIG_HIGHMEM = y; CONFIG_PRE")
    keys = await _complete(client, text, _at(text, "CONFIG_PRE", offset=10))
    assert set(keys) >= {"ARCH", "NR_CPUS", "CONFIG_PREEMPTION", "CACHE"}
    assert "kmap" not in keys
    assert keys["CONFIG_PREEMPTION"].kind == types.CompletionItemKind.Property
    text = GOOD.replace("CONFIG_HIGHMEM = y;", "ARCH = ")
    values = await _complete(client, text, _at(text, "ARCH = ", offset=7), version=3)
    assert list(values) == ["x86", "x86_64", "arm"]
    text = GOOD.replace("(writer.addr != 0)", "(writer.")
    members = await _complete(client, text, _at(text, "writer.", offset=7), version=4)
    assert list(members) == ["addr"]
    text = GOOD.replace("(writer.addr != 0)", "(!OO")
    expect = await _complete(client, text, _at(text, "!OO", offset=3), version=5)
    assert expect["OOPS"].kind == types.CompletionItemKind.Event
    assert expect["writer"].kind == types.CompletionItemKind.Module


# ------------------------------------------------------------------ definition


async def _definition(client: LanguageClient, pos: types.Position) -> types.Range | None:
    result = await client.text_document_definition_async(types.DefinitionParams(
        types.TextDocumentIdentifier(URI), pos))
    if result is None:
        return None
    assert isinstance(result, types.Location) and result.uri == URI
    return result.range


@pytest.mark.asyncio
async def test_definition_of_pages_locals_functions_and_task_locals(
        client: LanguageClient) -> None:
    await _open(client, GOOD)
    page = _rng(2, 5, 2, 6)
    assert await _definition(client, _at(GOOD, "(P)", offset=1)) == page
    assert await _definition(client, _at(GOOD, "twice(1)", offset=2)) == _rng(5, 11, 5, 16)
    assert await _definition(client, _at(GOOD, "n * 2")) == _rng(5, 21, 5, 22)
    # C's block scope: the inner addr inside the block, the outer one after it
    assert await _definition(client, _at(GOOD, "shared = addr", offset=9)) == _rng(13, 12, 13, 16)
    assert await _definition(client, _at(GOOD, "kunmap_local(addr)", offset=13)) == \
        _rng(11, 8, 11, 12)
    assert await _definition(client, _at(GOOD, "shared = addr", 1, offset=9)) == \
        _rng(20, 8, 20, 12)
    # `writer.addr` in the expectation: writer's outermost addr
    assert await _definition(client, _at(GOOD, "writer.addr", offset=8)) == _rng(11, 8, 11, 12)
    assert await _definition(client, _at(GOOD, "kmap_local_page")) is None


# ----------------------------------------------------------------- code action


@pytest.mark.asyncio
async def test_a_quick_fix_for_each_did_you_mean(client: LanguageClient) -> None:
    diags = await _open(client, TYPOS)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(URI), _rng(0, 0, 7, 0),
        types.CodeActionContext(diagnostics=diags)))
    assert actions is not None
    got = []
    for action in actions:
        assert isinstance(action, types.CodeAction)
        assert action.kind == types.CodeActionKind.QuickFix
        assert action.edit is not None and action.edit.changes is not None
        [edit] = action.edit.changes[URI]
        got.append((action.title, edit.range, edit.new_text))
    assert got == [
        ("Replace `CONFIG_PREMPTION` with `CONFIG_PREEMPTION`", _rng(0, 29, 0, 45),
         "CONFIG_PREEMPTION"),
        ("Replace `kmap_local_pag` with `kmap_local_page`", _rng(3, 15, 3, 29),
         "kmap_local_page"),
        ("Replace `adr` with `addr`", _rng(4, 17, 4, 20), "addr"),
        ("Replace `ab` with `a`", _rng(6, 9, 6, 11), "a"),
    ]
    # only the fix of the diagnostic under the cursor
    one = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(URI), _rng(4, 18, 4, 18),
        types.CodeActionContext(diagnostics=diags)))
    assert one is not None and [a.title for a in one] == ["Replace `adr` with `addr`"]
