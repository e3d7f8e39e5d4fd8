// The VS Code side of synthc: starts `synthc lsp` over stdio and hands .synth files to it.
// Everything a user sees (diagnostics, hover, completion, navigation, rename, formatting,
// semantic tokens, inlay hints) comes from the server; highlighting is the TextMate grammar.
"use strict";
const path = require("path");
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

// `synthc.path` as the user wrote it: a name looked up on PATH, an absolute path, or a path
// relative to the first workspace folder (e.g. `.venv/bin/synthc`).
function serverCommand() {
  const config = vscode.workspace.getConfiguration("synthc");
  let command = config.get("path") || "synthc";
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  if (folder && !path.isAbsolute(command) && command.includes("/")) {
    command = path.join(folder.uri.fsPath, command);
  }
  return { command, args: ["lsp", ...(config.get("args") || [])], transport: TransportKind.stdio };
}

async function start(context) {
  const run = serverCommand();
  client = new LanguageClient(
    "synthc",
    "synthc",
    { run, debug: run },
    {
      documentSelector: [{ language: "synth" }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.synth") },
      outputChannelName: "synthc",
    },
  );
  try {
    await client.start();
  } catch (err) {
    vscode.window.showErrorMessage(
      `synthc: could not start \`${run.command} lsp\` (${err.message || err}). ` +
        "Install synthc (pip install synthc) or set `synthc.path`.",
    );
  }
  context.subscriptions.push(client);
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand("synthc.restartServer", async () => {
      if (client) await client.stop();
      await start(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration("synthc.path") || e.affectsConfiguration("synthc.args")) {
        if (client) await client.stop();
        await start(context);
      }
    }),
  );
  await start(context);
}

async function deactivate() {
  if (client) await client.stop();
}

module.exports = { activate, deactivate, serverCommand };
