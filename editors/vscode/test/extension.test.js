#!/usr/bin/env node
// Loads extension.js against a stand-in `vscode` module (VS Code itself cannot run here) with the
// real vscode-languageclient, and checks what it would start: `<synthc.path> lsp <synthc.args>`
// over stdio, for documents of the `synth` language.
"use strict";
const assert = require("assert");
const Module = require("module");
const path = require("path");

const settings = { path: "synthc", args: [] };
const started = [];
// Anything else vscode-languageclient touches at load time (classes to extend, enums) is a
// constructible, infinitely nested stand-in.
function anything() {
  return new Proxy(function () {}, { get: (target, key) => (key === "prototype" ? target.prototype : anything()) });
}
const api = {
  workspace: {
    workspaceFolders: [{ uri: { fsPath: "/home/user/project" } }],
    getConfiguration: (section) => ({ get: (key) => (section === "synthc" ? settings[key] : undefined) }),
    createFileSystemWatcher: (glob) => ({ glob, dispose() {} }),
    onDidChangeConfiguration: () => ({ dispose() {} }),
  },
  window: { showErrorMessage: (m) => started.push({ error: m }) },
  commands: { registerCommand: (name) => ({ name, dispose() {} }) },
};
const vscode = new Proxy(api, { get: (target, key) => (key in target ? target[key] : anything()) });

// Every `require("vscode")` (ours and vscode-languageclient's) gets the stand-in; the client
// class is replaced by a recorder so that activate() runs without an editor.
const realLoad = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === "vscode") return vscode;
  const loaded = realLoad.apply(this, arguments);
  if (request === "vscode-languageclient/node") {
    class RecordingClient {
      constructor(id, name, serverOptions, clientOptions) {
        Object.assign(this, { id, name, serverOptions, clientOptions });
      }
      async start() { started.push(this); }
      async stop() {}
      dispose() {}
    }
    return { ...loaded, LanguageClient: RecordingClient };
  }
  return loaded;
};

const ext = require(path.join(__dirname, "..", "extension.js"));
const { TransportKind } = realLoad("vscode-languageclient/node", module, false);

(async () => {
  assert.deepStrictEqual(ext.serverCommand(), { command: "synthc", args: ["lsp"], transport: TransportKind.stdio });
  settings.path = ".venv/bin/synthc";
  settings.args = ["--log", "debug"];
  assert.deepStrictEqual(ext.serverCommand().command, "/home/user/project/.venv/bin/synthc");
  assert.deepStrictEqual(ext.serverCommand().args, ["lsp", "--log", "debug"]);
  settings.path = "/opt/synthc/bin/synthc";
  assert.strictEqual(ext.serverCommand().command, "/opt/synthc/bin/synthc");

  const subscriptions = [];
  await ext.activate({ subscriptions });
  assert.strictEqual(started.length, 1);
  const client = started[0];
  assert.strictEqual(client.serverOptions.run.command, "/opt/synthc/bin/synthc");
  assert.deepStrictEqual(client.clientOptions.documentSelector, [{ language: "synth" }]);
  assert.ok(subscriptions.some((s) => s.name === "synthc.restartServer"));
  console.log("extension.js: ok");
})().catch((err) => { console.error(err); process.exit(1); });
