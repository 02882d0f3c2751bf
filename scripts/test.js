#!/usr/bin/env node
// Runs every test file (test/**/*.test.ts) with node:test through tsx.
// Usage: npm test [-- <substring filter>...]
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? find(p) : p.endsWith('.test.ts') ? [p] : []
  })
}

const filters = process.argv.slice(2)
const files = find('test').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort()
if (files.length === 0) {
  console.error('no test files match')
  process.exit(1)
}
const r = spawnSync(process.execPath, [
  '--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=300000', ...files,
], { stdio: 'inherit' })
process.exit(r.status ?? 1)
