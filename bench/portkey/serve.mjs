// The Portkey AI gateway (`@portkey-ai/gateway` from npm, installed here by scripts/setup) on 127.0.0.1, for
// bench/run's `portkey` target:
//
//   node bench/portkey/serve.mjs --port N
//
// It runs the package's own server (what `npx @portkey-ai/gateway --headless` runs) after loopback.mjs, so
// it listens on 127.0.0.1:N instead of every interface and can open connections to loopback only. A request
// names its upstream in headers: `x-portkey-provider: openai`, `x-portkey-custom-host:
// http://127.0.0.1:PORT/v1` and the backend key in `Authorization`.

import './loopback.mjs';

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const server = path.join(here, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');

const args = process.argv.slice(2);
const at = args.indexOf('--port');
const port = at >= 0 ? Number(args[at + 1]) : NaN;
if (args.length !== 2 || !Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node bench/portkey/serve.mjs --port N');
  process.exit(2);
}
if (!fs.existsSync(server)) {
  console.error(`no Portkey gateway at ${server}: run scripts/setup (npm ci in bench/portkey)`);
  process.exit(2);
}
process.argv = [process.argv[0], server, `--port=${port}`, '--headless'];
await import(pathToFileURL(server).href);
