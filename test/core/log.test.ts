// Issue 15 §4: the log is human-readable (pino-pretty) on a terminal and JSON otherwise, HERALD_LOG_FORMAT decides
// when set; the start line lists the console, the API docs and every listener as URLs. The CLI is spawned piped and
// under a pseudo-terminal (`script` from util-linux).
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { logFormat, startUrls } from '../../src/log.ts'

const ROOT = new URL('../..', import.meta.url).pathname
const hasScript = spawnSync('script', ['--version']).status === 0

describe('log format (issue 15 §4)', () => {
  test('auto: pretty on a TTY, JSON otherwise; json and pretty as asked; anything else is refused by name', () => {
    assert.equal(logFormat('auto', true), 'pretty')
    assert.equal(logFormat('auto', false), 'json')
    assert.equal(logFormat('json', true), 'json')
    assert.equal(logFormat('pretty', false), 'pretty')
    assert.throws(() => logFormat('yaml', true), /HERALD_LOG_FORMAT\) is auto, json or pretty, not yaml/)
  })

  test('the start URLs: console, API docs, every listener, dialect ports and extra WebSocket paths', () => {
    const urls = startUrls({
      host: '0.0.0.0', metricsHost: '127.0.0.1', console: true, wsPaths: ['/mqtt', '/api/v1/stream'], httpPorts: new Set(['chat21']),
      ports: { metrics: 9464, http: 8080, https: 8443, mqtt: 1883, mqtts: 8883, chat21: 8004, push: 5223, 'ws:/ws': 9001 },
    })
    assert.deepEqual(urls, {
      console: 'http://localhost:8080/console',
      'API docs': 'http://localhost:8080/api/docs',
      http: 'http://localhost:8080',
      https: 'https://localhost:8443',
      mqtt: 'mqtt://localhost:1883',
      mqtts: 'mqtts://localhost:8883',
      ws: 'ws://localhost:8080/mqtt ws://localhost:8080/api/v1/stream',
      wss: 'wss://localhost:8443/mqtt wss://localhost:8443/api/v1/stream',
      metrics: 'http://127.0.0.1:9464/metrics',
      chat21: 'http://localhost:8004',
      push: 'localhost:5223',
      'ws:/ws': 'ws://localhost:9001/ws',
    })
    // the console off (HERALD_CONSOLE=false), HTTPS only, an IPv6 address
    assert.deepEqual(startUrls({ host: '::1', metricsHost: '::1', console: false, wsPaths: [], httpPorts: new Set(), ports: { https: 8443 } }), {
      'API docs': 'https://[::1]:8443/api/docs', https: 'https://[::1]:8443',
    })
  })
})

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '')

/** The whole start record has arrived: its JSON line, or (pretty) its last field `dialects: [ … ]`. */
function startLineDone(out: string): boolean {
  const text = plain(out)
  const at = text.indexOf('herald ready')
  if (at === -1) return false
  const rest = text.slice(at)
  return rest.startsWith('herald ready"}\n') || /\n {4}dialects: \[[^\]]*\]\n/.test(rest)
}

/** `herald serve` on free loopback ports; its output until the start line, then SIGTERM to its process group. */
async function serve(o: { tty: boolean; format?: string }): Promise<{ out: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-log-'))
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm',
    HERALD_DATA_DIR: dataDir, HERALD_HOST: '127.0.0.1', HERALD_MODE: 'development',
    HERALD_HTTP_PORT: '0', HERALD_HTTPS_PORT: '0', HERALD_MQTT_PORT: '0', HERALD_MQTTS_PORT: '0', HERALD_METRICS_PORT: '0',
    ...(o.format ? { HERALD_LOG_FORMAT: o.format } : {}),
  }
  const cli = [process.execPath, '--import', 'tsx', 'src/cli.ts', 'serve']
  const child = o.tty
    ? spawn('script', ['-qec', cli.join(' '), '/dev/null'], { cwd: ROOT, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(cli[0], cli.slice(1), { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => { out += d.toString(); if (startLineDone(out)) resolve() }
      child.stdout!.on('data', onData)
      child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
      exited.then((code) => reject(new Error(`herald exited (${code}) before its start line:\n${out}`)))
    })
  } finally {
    process.kill(-child.pid!, 'SIGTERM')
  }
  await exited
  rmSync(dataDir, { recursive: true, force: true })
  return { out }
}

interface Line { msg: string; level: number; urls?: Record<string, string> }
const readyLine = (out: string): Line | undefined =>
  out.split(/\r?\n/).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line).find((l) => l.msg === 'herald ready')

describe('herald serve logs (issue 15 §4)', () => {
  test('piped: one JSON object a line; the start line has the URLs of the console, the API docs and every listener', async () => {
    const { out } = await serve({ tty: false })
    for (const l of out.split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(l), `a JSON line: ${l}`)
    const ready = readyLine(out)
    assert.ok(ready?.urls, `the start line:\n${out}`)
    for (const k of ['console', 'API docs', 'http', 'https', 'mqtt', 'mqtts', 'ws', 'wss', 'metrics']) assert.ok(ready.urls[k], `urls.${k}`)
    assert.match(ready.urls['API docs'], /^http:\/\/127\.0\.0\.1:\d+\/api\/docs$/)
    assert.match(ready.urls.ws, /^ws:\/\/127\.0\.0\.1:\d+\/mqtt ws:\/\/127\.0\.0\.1:\d+\/api\/v1\/stream$/)
  })

  test('on a terminal: human-readable, the URLs one per line under the start message', { skip: !hasScript && !process.env.CI && 'no `script` (util-linux)' }, async () => {
    const { out } = await serve({ tty: true })
    const text = plain(out)
    assert.equal(readyLine(text), undefined, 'no JSON start line')
    assert.match(text, /\[\d\d:\d\d:\d\d\.\d{3}\] INFO: herald ready\n/)
    assert.match(text, /\n {8}API docs +http:\/\/127\.0\.0\.1:\d+\/api\/docs\n/)
    assert.match(text, /\n {8}mqtt +mqtt:\/\/127\.0\.0\.1:\d+\n/)
    assert.ok(out.includes('\u001b[32mINFO'), 'colours on a terminal')
  })

  test('HERALD_LOG_FORMAT=json on a terminal: JSON all the same', { skip: !hasScript && !process.env.CI && 'no `script` (util-linux)' }, async () => {
    const { out } = await serve({ tty: true, format: 'json' })
    assert.ok(readyLine(plain(out))?.urls?.console, `a JSON start line:\n${out}`)
  })

  test('HERALD_LOG_FORMAT=pretty piped: human-readable without colours', async () => {
    const { out } = await serve({ tty: false, format: 'pretty' })
    assert.equal(readyLine(out), undefined)
    assert.match(out, /INFO: herald ready\n/)
    assert.ok(!out.includes('\u001b['), 'no colours')
  })
})
