// `herald token create` and the console served by the built command (bin/herald.js runs dist/; the console's files
// come from the package, not from the build): issue 15 items 1, 2.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { freePort } from '../helpers.ts'

function herald(args: string[], env: NodeJS.ProcessEnv): { done: Promise<{ code: number | null; out: string }>; kill(sig: NodeJS.Signals): void } {
  const child = spawn(process.execPath, ['bin/herald.js', ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { out += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const done = new Promise<{ code: number | null; out: string }>((resolve) => child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }) }))
  return { done, kill: (sig) => child.kill(sig) }
}

describe('herald token create and the built console', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-admin-cli-'))
  after(() => rmSync(dataDir, { recursive: true, force: true }))

  test('a created token is printed once, works as a bearer token, and the console is served by the built server', async () => {
    const env = { HERALD_DATA_DIR: dataDir, HERALD_HOST: '127.0.0.1', HERALD_DIALECTS: ',', HERALD_HTTPS_PORT: 'off', HERALD_MQTTS_PORT: 'off', HERALD_METRICS_PORT: 'off', HERALD_LOG_LEVEL: 'warn' }
    const made = await herald(['token', 'create', '--name', 'ci'], env).done
    assert.equal(made.code, 0, made.out)
    const token = made.out.trim()
    assert.match(token, /^hrld_[A-Za-z0-9_-]{43}$/)
    const second = (await herald(['token', 'create'], env).done).out.trim()
    assert.notEqual(second, token)

    const ports = { http: await freePort(), mqtt: await freePort() }
    const serve = herald(['serve'], { ...env, HERALD_HTTP_PORT: String(ports.http), HERALD_MQTT_PORT: String(ports.mqtt) })
    const base = `http://127.0.0.1:${ports.http}`
    try {
      const end = Date.now() + 30_000
      while (!(await fetch(`${base}/readyz`).then((r) => r.ok, () => false))) {
        assert.ok(Date.now() < end, 'herald serve became ready')
        await new Promise((r) => setTimeout(r, 100))
      }
      const server = await fetch(`${base}/api/v1/admin/server`, { headers: { authorization: `Bearer ${token}` } })
      assert.equal(server.status, 200)
      const body = await server.text()
      assert.ok(!body.includes(token))
      assert.equal((await fetch(`${base}/api/v1/admin/server`, { headers: { authorization: `Bearer ${token}x` } })).status, 401)

      const page = await fetch(`${base}/console`)
      assert.equal(page.status, 200)
      assert.match(page.headers.get('content-type') ?? '', /text\/html/)
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/)
      assert.match(await page.text(), /<script src="\/console\/console.js" defer><\/script>/)
      for (const f of ['console.js', 'console.css', 'uPlot.iife.min.js', 'uPlot.min.css']) assert.equal((await fetch(`${base}/console/${f}`)).status, 200, f)
      assert.equal((await fetch(`${base}/console/..%2Fpackage.json`)).status, 400)
      assert.equal((await fetch(`${base}/console/nosuch.js`)).status, 404)
    } finally {
      serve.kill('SIGTERM')
      const r = await serve.done
      assert.equal(r.code, 0, r.out)
    }
  })
})
