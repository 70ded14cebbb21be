// The kmap scenarios extension for VS Code. The grammar and the language
// configuration are declared in package.json; this file starts the
// language server, `kmap lsp` (pip install 'kmap-scenarios[lsp]'), over
// stdio and hands it the .kmap documents. Settings (package.json):
// kmap.server.enable, kmap.server.command, kmap.trace.server.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverOptions(settings) {
  const [command, ...args] = settings.get("server.command", ["kmap", "lsp"]);
  return { command, args, transport: TransportKind.stdio };
}

function activate(context) {
  const settings = vscode.workspace.getConfiguration("kmap");
  if (!settings.get("server.enable", true)) {
    return undefined;
  }
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "kmap" },
      { scheme: "untitled", language: "kmap" },
    ],
  };
  // The id "kmap" makes the client read the kmap.trace.server setting.
  client = new LanguageClient("kmap", "kmap language server", serverOptions(settings),
                              clientOptions);
  context.subscriptions.push(client);
  return client.start().catch((error) => {
    vscode.window.showWarningMessage(
      `kmap: the language server did not start (${error.message}). ` +
      "Install it with pip install 'kmap-scenarios[lsp]', or set kmap.server.command.");
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate, serverOptions };
