#!/usr/bin/env node
// Runs the JavaScript that `npm ci` built into dist/ (the `prepare` script); stack traces point at src/ through
// the source maps. Tests and benches run the TypeScript sources through tsx instead.
import { existsSync } from 'node:fs'

const cli = new URL('../dist/cli.js', import.meta.url)
if (!existsSync(cli)) {
  console.error('herald: dist/ is not built; run `npm ci` or `npm run build`')
  process.exit(1)
}
process.setSourceMapsEnabled(true)
await import(cli.href)
