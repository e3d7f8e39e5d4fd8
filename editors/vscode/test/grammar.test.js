#!/usr/bin/env node
// Tokenizes .synth files with the extension's TextMate grammar, exactly as VS Code does
// (vscode-textmate + the oniguruma WASM build), and checks three things per file:
//   1. no non-whitespace text is left with only the root scope (or only `meta.*` scopes);
//   2. nothing is scoped `invalid.*` (the recipes checked are valid);
//   3. the scopes equal the committed snapshot (test/snapshots/<path>.snap).
// Also checks test/expect.json: named tokens that must carry a named scope.
//
// usage: node test/grammar.test.js --root REPO [--update] FILE...   (FILE relative to REPO)
"use strict";
const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const HERE = __dirname;
const GRAMMAR = path.join(HERE, "..", "syntaxes", "synth.tmLanguage.json");
const SNAPSHOTS = path.join(HERE, "snapshots");
const ROOT_SCOPE = "source.synth";

async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === ROOT_SCOPE ? vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, "utf8"), GRAMMAR) : null,
  });
  return registry.loadGrammar(ROOT_SCOPE);
}

// [{line, text, scopes}] for every token of the file (scopes without the root).
function tokenize(grammar, text) {
  const out = [];
  let stack = vsctm.INITIAL;
  text.split(/\r?\n/).forEach((line, i) => {
    const r = grammar.tokenizeLine(line, stack);
    for (const t of r.tokens) {
      const piece = line.slice(t.startIndex, t.endIndex);
      out.push({ line: i + 1, col: t.startIndex + 1, text: piece, scopes: t.scopes.filter((s) => s !== ROOT_SCOPE) });
    }
    stack = r.ruleStack;
  });
  return out;
}

// One line per source line, then one indented line per non-whitespace token: text, scopes.
function snapshot(text, tokens) {
  const lines = text.split(/\r?\n/);
  const byLine = new Map();
  for (const t of tokens) {
    if (!t.text.trim()) continue;
    if (!byLine.has(t.line)) byLine.set(t.line, []);
    byLine.get(t.line).push(t);
  }
  const out = [];
  lines.forEach((src, i) => {
    out.push(">" + src);
    for (const t of byLine.get(i + 1) || []) out.push(`  ${JSON.stringify(t.text)}  ${t.scopes.join(" ")}`);
  });
  return out.join("\n") + "\n";
}

function problems(file, tokens) {
  const found = [];
  for (const t of tokens) {
    if (!t.text.trim()) continue;
    const where = `${file}:${t.line}:${t.col}`;
    if (!t.scopes.some((s) => !s.startsWith("meta."))) found.push(`${where}: ${JSON.stringify(t.text)} has only the root scope`);
    const bad = t.scopes.find((s) => s.startsWith("invalid."));
    if (bad) found.push(`${where}: ${JSON.stringify(t.text)} is scoped ${bad}`);
  }
  return found;
}

function snapName(file) {
  return path.join(SNAPSHOTS, file.split(/[\\/]/).join("__") + ".snap");
}

async function main() {
  const args = process.argv.slice(2);
  const update = args.includes("--update");
  const rootAt = args.indexOf("--root");
  const root = rootAt >= 0 ? args[rootAt + 1] : process.cwd();
  const files = args.filter((a, i) => !a.startsWith("--") && !(rootAt >= 0 && i === rootAt + 1));
  const grammar = await loadGrammar();
  const failures = [];
  const wanted = new Set();
  const texts = new Map();
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), "utf8");
    const tokens = tokenize(grammar, text);
    texts.set(file, tokens);
    failures.push(...problems(file, tokens));
    const snap = snapName(file);
    wanted.add(path.basename(snap));
    const actual = snapshot(text, tokens);
    if (update) {
      fs.mkdirSync(SNAPSHOTS, { recursive: true });
      fs.writeFileSync(snap, actual);
    } else if (!fs.existsSync(snap)) {
      failures.push(`${file}: no snapshot ${path.relative(root, snap)} (rerun pytest with --update-golden)`);
    } else if (fs.readFileSync(snap, "utf8") !== actual) {
      const old = fs.readFileSync(snap, "utf8").split("\n");
      const now = actual.split("\n");
      const at = now.findIndex((l, i) => l !== old[i]);
      failures.push(`${file}: scopes differ from ${path.relative(root, snap)} at snapshot line ${at + 1}:\n` +
                    `    was: ${old[at]}\n    now: ${now[at]}\n  (rerun pytest with --update-golden and review the diff)`);
    }
  }
  if (fs.existsSync(SNAPSHOTS)) {
    for (const name of fs.readdirSync(SNAPSHOTS)) {
      if (!wanted.has(name)) {
        if (update) fs.unlinkSync(path.join(SNAPSHOTS, name));
        else failures.push(`stale snapshot test/snapshots/${name}: its recipe is gone (rerun with --update-golden)`);
      }
    }
  }
  const expectPath = path.join(HERE, "expect.json");
  for (const e of JSON.parse(fs.readFileSync(expectPath, "utf8"))) {
    const tokens = texts.get(e.file);
    if (!tokens) { failures.push(`expect.json names ${e.file}, which was not tokenized`); continue; }
    const hits = tokens.filter((t) => t.line === e.line && t.text === e.text);
    if (!hits.length) failures.push(`expect.json: no token ${JSON.stringify(e.text)} on ${e.file}:${e.line}`);
    else if (!hits.some((t) => t.scopes.includes(e.scope)))
      failures.push(`${e.file}:${e.line}: ${JSON.stringify(e.text)} should be ${e.scope}, is ${hits[0].scopes.join(" ")}`);
  }
  for (const f of failures) console.log(f);
  console.log(`${files.length} file(s) tokenized, ${failures.length} problem(s)`);
  process.exit(failures.length ? 1 : 0);
}

main().catch((err) => { console.error(err); process.exit(2); });
