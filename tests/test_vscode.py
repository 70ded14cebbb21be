"""The VS Code extension in editors/vscode: its manifest, its client, its grammar.

The grammar's scopes are asserted by editors/vscode/test/*.kmap, run with
vscode-tmgrammar-test (npm) as `npm test` runs it; the tool is found in
$KMAP_TMGRAMMAR_TEST (.ci/run installs it there), in
editors/vscode/node_modules (after `npm install` in that folder) or on the
PATH, and the tests skip without it or without node. extension.js runs
under node with stand-ins for the `vscode` and `vscode-languageclient`
modules, which exist only inside VS Code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "editors/vscode"
TOOL = "vscode-tmgrammar-test"


def _manifest() -> dict[str, object]:
    data = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_extension_folder_is_installable() -> None:
    manifest = _manifest()
    assert (VSCODE / str(manifest["main"])).is_file()
    assert manifest["license"] == "MIT"
    # the project's MIT terms (the root LICENSE goes on with the kmod headers' dual licence)
    mit = (ROOT / "LICENSE").read_text().split("\n-----")[0].rstrip("\n") + "\n"
    assert (VSCODE / "LICENSE").read_text() == mit
    readme = (VSCODE / "README.md").read_text()
    assert "kmap lsp" in readme and "pip install 'kmap-scenarios[lsp]'" in readme
    contributes = manifest["contributes"]
    assert isinstance(contributes, dict)
    settings = contributes["configuration"]["properties"]
    assert settings["kmap.server.command"]["default"] == ["kmap", "lsp"]
    assert set(settings) == {"kmap.server.enable", "kmap.server.command", "kmap.trace.server"}
    assert manifest["activationEvents"] == ["onLanguage:kmap"]


def _tmgrammar_test() -> str | None:
    for candidate in (os.environ.get("KMAP_TMGRAMMAR_TEST"),
                      str(VSCODE / "node_modules/.bin" / TOOL), shutil.which(TOOL)):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


needs_tool = pytest.mark.skipif(
    shutil.which("node") is None or _tmgrammar_test() is None,
    reason=f"node or {TOOL} is not installed (npm install in editors/vscode)")


def _run_grammar_tests(folder: Path) -> subprocess.CompletedProcess[str]:
    tool = _tmgrammar_test()
    assert tool is not None
    # as `npm test` runs it: the grammar from package.json, from the folder
    return subprocess.run([tool, "test/*.kmap"], cwd=folder, capture_output=True,
                          text=True, timeout=120)


@needs_tool
def test_grammar_scopes() -> None:
    result = _run_grammar_tests(VSCODE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test/scopes.kmap run successfuly" in result.stdout


@needs_tool
def test_a_wrong_scope_fails(tmp_path: Path) -> None:
    folder = tmp_path / "vscode"
    shutil.copytree(VSCODE, folder, ignore=shutil.ignore_patterns("node_modules"))
    case = folder / "test/scopes.kmap"
    # `1UL` asserted as a type instead of a number
    case.write_text(case.read_text().replace(
        "//                       ^^^ constant.numeric.decimal.kmap",
        "//                       ^^^ storage.type.kmap", 1))
    result = _run_grammar_tests(folder)
    assert result.returncode != 0
    assert "missing required scopes: storage.type.kmap" in result.stdout


# -------------------------------------------------------------- extension.js

STUB_VSCODE = """
const settings = JSON.parse(process.env.KMAP_SETTINGS);
exports.warnings = [];
exports.workspace = { getConfiguration: (section) => ({
  get: (key, fallback) => (section + "." + key) in settings ? settings[section + "." + key] : fallback,
}) };
exports.window = { showWarningMessage: (text) => exports.warnings.push(text) };
"""
STUB_CLIENT = """
exports.clients = [];
exports.TransportKind = { stdio: 0, ipc: 1 };
exports.LanguageClient = class {
  constructor(id, name, server, options) {
    Object.assign(this, { id, name, server, options });
    exports.clients.push(this);
  }
  start() { return process.env.KMAP_FAIL ? Promise.reject(new Error("spawn kmap ENOENT")) : Promise.resolve(); }
  stop() { return Promise.resolve(); }
};
"""
DRIVER = """
const ext = require("./extension.js");
const { clients } = require("vscode-languageclient/node");
const vscode = require("vscode");
const context = { subscriptions: [] };
Promise.resolve(ext.activate(context)).then(() => {
  console.log(JSON.stringify({ clients: clients.map(({ id, name, server, options }) =>
    ({ id, name, server, options })), subscribed: context.subscriptions.length,
    warnings: vscode.warnings }));
});
"""


def _activate(tmp_path: Path, settings: dict[str, object], fail: bool = False) -> dict[str, object]:
    shutil.copy(VSCODE / "extension.js", tmp_path / "extension.js")
    (tmp_path / "node_modules/vscode").mkdir(parents=True)
    (tmp_path / "node_modules/vscode/index.js").write_text(STUB_VSCODE)
    (tmp_path / "node_modules/vscode-languageclient").mkdir()
    (tmp_path / "node_modules/vscode-languageclient/node.js").write_text(STUB_CLIENT)
    (tmp_path / "driver.js").write_text(DRIVER)
    env = {**os.environ, "KMAP_SETTINGS": json.dumps(settings)}
    if fail:
        env["KMAP_FAIL"] = "1"
    result = subprocess.run(["node", "driver.js"], cwd=tmp_path, capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert isinstance(out, dict)
    return out


needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@needs_node
def test_the_client_starts_kmap_lsp_for_kmap_documents(tmp_path: Path) -> None:
    out = _activate(tmp_path, {})
    assert out == {"clients": [{
        "id": "kmap", "name": "kmap language server",
        "server": {"command": "kmap", "args": ["lsp"], "transport": 0},
        "options": {"documentSelector": [{"scheme": "file", "language": "kmap"},
                                         {"scheme": "untitled", "language": "kmap"}]}}],
        "subscribed": 1, "warnings": []}


@needs_node
def test_the_client_follows_the_settings(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    out = _activate(tmp_path / "a", {"kmap.server.command": ["/opt/venv/bin/kmap-lsp"]})
    clients = out["clients"]
    assert isinstance(clients, list)
    assert clients[0]["server"] == {"command": "/opt/venv/bin/kmap-lsp", "args": [],
                                    "transport": 0}
    (tmp_path / "b").mkdir()
    assert _activate(tmp_path / "b", {"kmap.server.enable": False}) == \
        {"clients": [], "subscribed": 0, "warnings": []}
    (tmp_path / "c").mkdir()
    failed = _activate(tmp_path / "c", {}, fail=True)
    assert failed["warnings"] == [
        "kmap: the language server did not start (spawn kmap ENOENT). "
        "Install it with pip install 'kmap-scenarios[lsp]', or set kmap.server.command."]
