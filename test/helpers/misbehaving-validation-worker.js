'use strict';
/**
 * A validation worker for the pool tests (test/saml/validation-pool.test.ts): the real worker, except that a job
 * whose SAMLResponse is, or decodes to text containing, '__crash__' ends the thread (exit code 70), and '__hang__'
 * never answers. Its listener is registered before the real worker loads, so it sees each job first.
 */
const path = require('node:path');
const { parentPort } = require('node:worker_threads');

function marked(samlResponse, marker) {
  return samlResponse === marker || Buffer.from(samlResponse, 'base64').toString('utf8').includes(marker);
}

parentPort.on('message', (request) => {
  const samlResponse = String(request && request.job && request.job.samlResponse);
  if (marked(samlResponse, '__crash__')) process.exit(70);
  if (marked(samlResponse, '__hang__')) for (;;);
});

require(path.resolve(__dirname, '../../src/saml/validation-worker-entry.js'));
