#!/usr/bin/env node
// Runs every test file (test/**/*.test.ts) with node:test through tsx, several files at once.
// Usage: npm test [-- <substring filter>...]; HERALD_TEST_CONCURRENCY sets how many files run at once.
// Files that repoint RabbitMQ's HTTP auth backend hold a lock around it (test/rabbitmq.ts), so they never overlap;
// they are spread over the run so that they seldom wait for each other.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? find(p) : p.endsWith('.test.ts') ? [p] : []
  })
}

/** Places the `locked` files at even intervals among the others, keeping each group's order. */
function spread(files, locked) {
  const held = files.filter(locked)
  const free = files.filter((f) => !locked(f))
  if (held.length === 0) return free
  const step = Math.ceil(free.length / held.length)
  return held.flatMap((f, i) => [f, ...free.slice(i * step, (i + 1) * step)])
}

const filters = process.argv.slice(2)
const files = find('test').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort()
if (files.length === 0) {
  console.error('no test files match')
  process.exit(1)
}
const text = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]))

// the `herald` command tests run bin/herald.js, which runs the build in dist/: build it from the current sources
// (type errors are `npm run check`'s business; tsc emits regardless)
if (files.some((f) => text.get(f).includes('bin/herald.js'))) {
  spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'ignore' })
}

const concurrency = Number(process.env.HERALD_TEST_CONCURRENCY ?? 3)
const ordered = spread(files, (f) => text.get(f).includes('pointRabbitAuthAt('))
const r = spawnSync(process.execPath, [
  '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=300000', ...ordered,
], { stdio: 'inherit' })
process.exit(r.status ?? 1)
