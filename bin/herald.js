#!/usr/bin/env node
// Runs the JavaScript that `npm ci` built into dist/ (the `prepare` script). Stack traces name dist/ lines (tsc's
// output, beside its source map); NODE_OPTIONS=--enable-source-maps maps them to src/ lines, at ~4 MB of idle RSS
// (Node then parses and keeps every loaded module's map: issue 11 item 7). Tests and benches run the TypeScript
// sources through tsx instead.
import { existsSync } from 'node:fs'

const cli = new URL('../dist/cli.js', import.meta.url)
if (!existsSync(cli)) {
  console.error('herald: dist/ is not built; run `npm ci` or `npm run build`')
  process.exit(1)
}
await import(cli.href)
