// @ts-check
/**
 * Installs NestJS 11 into test/nest11/node_modules from test/nest11/package-lock.json, for the
 * second run of the end-to-end suite (`jest -c test/nest11/jest.config.js`).
 *
 * Skipped when node_modules was installed from the same lockfile: a stamp holding the lockfile's
 * hash is written after a successful `npm ci`, which empties node_modules first, so a stale or
 * interrupted install never carries a stamp.
 */
const { createHash } = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const dir = __dirname;
const stamp = path.join(dir, 'node_modules', '.installed-from-lockfile');

/** The SHA-256 of the lockfile, in hex. */
function lockfileHash() {
  return createHash('sha256')
    .update(readFileSync(path.join(dir, 'package-lock.json')))
    .digest('hex');
}

const hash = lockfileHash();
if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) {
  console.log('NestJS 11 for the end-to-end suite: already installed from test/nest11/package-lock.json');
} else {
  const args = ['ci', '--prefix', dir, '--prefer-offline', '--no-audit', '--no-fund'];
  execFileSync('npm', args, { stdio: 'inherit', shell: process.platform === 'win32' });
  writeFileSync(stamp, hash);
}
