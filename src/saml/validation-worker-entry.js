'use strict';
/**
 * Worker bootstrap for running Gatehouse from its TypeScript sources (jest, the e2e suite, ts tooling).
 *
 * A worker thread cannot load a .ts file, and jest's transform does not reach into worker threads. So this plain
 * JavaScript file registers a minimal require hook that compiles .ts files with @swc/core (a devDependency, the
 * compiler @swc/jest already uses; same target) and then loads validation-worker.ts.
 *
 * The built server never uses this file: validation-pool.ts starts dist/src/saml/validation-worker.js directly
 * when it exists next to it (see defaultWorkerFile), so nothing here needs to be copied into dist/.
 */
const { readFileSync } = require('node:fs');
const path = require('node:path');
const { transformSync } = require('@swc/core');

// Set unconditionally: also replaces Node's own type-stripping loader (Node >= 22.18), which refuses TypeScript-only
// syntax such as parameter properties.
require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    filename,
    swcrc: false,
    configFile: false,
    sourceMaps: 'inline',
    module: { type: 'commonjs' },
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
  });
  module._compile(code, filename);
};

require(path.join(__dirname, 'validation-worker.ts'));
