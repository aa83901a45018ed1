#!/usr/bin/env node
/**
 * The npm registry reachable from our build machines serves only Linux builds of native packages, so a lockfile
 * written here lacks the other platforms' optional binaries (@swc/core-darwin-arm64, ...), and `npm ci` then refuses
 * the lockfile as out of sync. This adds the missing optional entries as platform-restricted stubs (os/cpu/libc taken
 * from the package name, version from the parent's optionalDependencies), which npm skips on a non-matching machine.
 *
 * Run after any dependency change:  node scripts/lockfile-platform-stubs.js && npm ci
 */
const fs = require('node:fs');
const path = require('node:path');

const LOCK = path.resolve(__dirname, '..', 'package-lock.json');
const CPUS = new Set(['x64', 'arm64', 'arm', 'ia32', 'ppc64', 's390x', 'loong64', 'riscv64', 'wasm32']);
const OSES = new Set(['darwin', 'linux', 'win32', 'freebsd', 'android', 'openharmony', 'sunos', 'aix']);

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  for (let i = 0; i < parts.length - 1; i++) {
    if (OSES.has(parts[i]) && CPUS.has(parts[i + 1])) {
      const abi = parts.slice(i + 2).join('-');
      const entry = { os: [parts[i]], cpu: [parts[i + 1]] };
      if (parts[i] === 'linux') {
        if (abi.startsWith('musl')) entry.libc = ['musl'];
        else if (abi.startsWith('gnu')) entry.libc = ['glibc'];
      }
      return entry;
    }
  }
  return null;
}

const lock = JSON.parse(fs.readFileSync(LOCK, 'utf8'));
let added = 0;
for (const [location, pkg] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const base = location === '' ? 'node_modules' : `${location}/node_modules`;
    const candidates = [`${base}/${name}`, `node_modules/${name}`];
    if (candidates.some((c) => lock.packages[c])) continue;
    const platform = platformOf(name);
    if (!platform) continue;
    lock.packages[`node_modules/${name}`] = { version, ...platform, optional: true, ...(pkg.dev ? { dev: true } : {}) };
    added += 1;
  }
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
lock.packages = sorted;
fs.writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: added ${added} platform stub(s)`);
