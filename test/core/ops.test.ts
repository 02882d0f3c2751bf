// Issue 2 §7, §8: configuration precedence and errors, "port in use" naming the setting, health and metrics,
// the HTTP error model, and the `herald` command (serve with SIGTERM/SIGINT, config, user) as a child process.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { coreSettings, describeConfig, loadConfig } from '../../src/config.ts'
import { collect, connect, freePort, startTestHerald, type TestHerald } from '../helpers.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const tmp = mkdtempSync(join(tmpdir(), 'herald-ops-'))
after(() => rmSync(tmp, { recursive: true, force: true }))

describe('configuration', () => {
  const file = join(tmp, 'herald.json')
  writeFileSync(file, JSON.stringify({ http: { port: 9001 }, 'mqtt.port': 9101, mqtts: { port: 9201 }, logLevel: 'warn' }))

  test('defaults < file < HERALD_* environment < flags', () => {
    const d = loadConfig({ env: {} })
    assert.equal(d['http.port'], 8080)
    assert.equal(d['mqtt.port'], 1883)
    assert.equal(d['mqtts.port'], 8883)
    assert.equal(d.databaseUrl, '')
    assert.equal(d['auth.allowAnonymous'], false)

    const f = loadConfig({ env: {}, file })
    assert.deepEqual([f['http.port'], f['mqtt.port'], f['mqtts.port'], f.logLevel], [9001, 9101, 9201, 'warn'])

    const e = loadConfig({ env: { HERALD_HTTP_PORT: '9002', HERALD_MQTT_PORT: '9102', HERALD_ALLOW_ANONYMOUS: 'true' }, file })
    assert.deepEqual([e['http.port'], e['mqtt.port'], e['mqtts.port'], e['auth.allowAnonymous']], [9002, 9102, 9201, true])

    const fl = loadConfig({ env: { HERALD_HTTP_PORT: '9002' }, file, flags: { 'http.port': '9003' } })
    assert.deepEqual([fl['http.port'], fl['mqtt.port']], [9003, 9101])
  })

  test('HERALD_CONFIG names the file; the documented names are read', () => {
    const c = loadConfig({ env: {
      HERALD_CONFIG: file, HERALD_MQTTS_PORT: 'off', HERALD_DATA_DIR: '/var/lib/herald',
      HERALD_DATABASE_URL: 'postgres://u:p@db/herald', HERALD_SERVICE_PASSWORD: 'pw',
    } })
    assert.deepEqual([c['http.port'], c['mqtts.port'], c.dataDir, c.databaseUrl, c['service.password']],
      [9001, null, '/var/lib/herald', 'postgres://u:p@db/herald', 'pw'])
  })

  test('invalid values are refused with a message naming the setting and where it came from', () => {
    assert.throws(() => loadConfig({ env: { HERALD_HTTP_PORT: 'eighty' } }), /http\.port \(HERALD_HTTP_PORT\): expected a port 0–65535 or "off", got "eighty"/)
    assert.throws(() => loadConfig({ env: { HERALD_MQTT_PORT: '70000' } }), /mqtt\.port \(HERALD_MQTT_PORT\)/)
    assert.throws(() => loadConfig({ env: { HERALD_ALLOW_ANONYMOUS: 'maybe' } }), /auth\.allowAnonymous \(HERALD_ALLOW_ANONYMOUS\): expected true or false/)
    assert.throws(() => loadConfig({ env: {}, flags: { 'http.port': 'x' } }), /http\.port \(--http-port\)/)
    assert.throws(() => loadConfig({ env: { HERALD_MODE: 'staging' } }), /mode: expected production or development, got "staging"/)
    const bad = join(tmp, 'bad.json')
    writeFileSync(bad, '{"http": {"port": ')
    assert.throws(() => loadConfig({ env: {}, file: bad }), new RegExp(`cannot read config file ${bad}`))
    assert.throws(() => loadConfig({ env: {}, file: join(tmp, 'missing.json') }), /cannot read config file .*missing\.json/)
    const wrongType = join(tmp, 'type.json')
    writeFileSync(wrongType, JSON.stringify({ http: { port: 'high' } }))
    assert.throws(() => loadConfig({ env: {}, file: wrongType }), new RegExp(`http\\.port \\(config file ${wrongType}\\)`))
  })

  test('secrets are masked in the effective configuration', () => {
    const c = loadConfig({ env: { HERALD_SERVICE_PASSWORD: 'hunter2', HERALD_DATABASE_URL: 'postgres://app:s3cret@db:5432/herald' } })
    const shown = describeConfig(c, coreSettings)
    assert.equal(shown['service.password'], '****')
    assert.equal(shown.databaseUrl, 'postgres://app:****@db:5432/herald')
    assert.ok(!JSON.stringify(shown).includes('hunter2') && !JSON.stringify(shown).includes('s3cret'))
  })
})

describe('listeners', () => {
  for (const [key, env, flag] of [['mqtt.port', 'HERALD_MQTT_PORT', '--mqtt-port'], ['http.port', 'HERALD_HTTP_PORT', '--http-port']]) {
    test(`a ${key} already in use names the port and the setting that changes it`, async () => {
      const blocker = net.createServer()
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
      const { port } = blocker.address() as AddressInfo
      try {
        await assert.rejects(startTestHerald({ overrides: { [key]: port } }),
          new RegExp(`port ${port} is already in use \\(change it with ${env} or ${flag}\\)`))
      } finally {
        blocker.close()
      }
    })
  }
})

describe('HTTP health, metrics and error model', () => {
  let h: TestHerald
  before(async () => {
    h = await startTestHerald()
    await h.users.add('m', 'pw', true)
  })
  after(async () => { await h.close() })

  const metric = async (name: string, labels = ''): Promise<number> => {
    const text = await (await fetch(`${h.metricsUrl}/metrics`)).text()
    const line = text.split('\n').find((l) => l.startsWith(name + labels + ' '))
    return line ? Number(line.split(' ').pop()) : 0
  }

  test('/healthz and /readyz', async () => {
    const hz = await fetch(`${h.httpUrl}/healthz`)
    assert.deepEqual([hz.status, await hz.json()], [200, { status: 'ok' }])
    const rz = await fetch(`${h.httpUrl}/readyz`)
    assert.deepEqual([rz.status, await rz.json()], [200, { status: 'ready' }])
  })

  test('/metrics: connections, messages in/out, auth failures and HTTP latency move', async () => {
    const res = await fetch(`${h.metricsUrl}/metrics`)
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/)
    const before = {
      conns: await metric('herald_mqtt_connections'),
      in: await metric('herald_mqtt_messages_in_total'),
      out: await metric('herald_mqtt_messages_out_total'),
      fails: await metric('herald_auth_failures_total', '{reason="bad-credentials"}'),
      http: await metric('herald_http_request_duration_seconds_count', '{method="GET",route="/healthz",status="200"}'),
    }
    const a = await connect(h.mqttUrl, { username: 'm', password: 'pw' })
    const b = await connect(h.mqttUrl, { username: 'm', password: 'pw' })
    await b.subscribeAsync('m/#', { qos: 1 })
    const got = collect(b, 2)
    await a.publishAsync('m/1', 'x', { qos: 1 })
    await a.publishAsync('m/2', 'y', { qos: 0 })
    await got
    await assert.rejects(connect(h.mqttUrl, { username: 'm', password: 'bad' }))
    await fetch(`${h.httpUrl}/healthz`)
    assert.equal(await metric('herald_mqtt_connections'), before.conns + 2)
    assert.ok(await metric('herald_mqtt_messages_in_total') >= before.in + 2)
    assert.ok(await metric('herald_mqtt_messages_out_total') >= before.out + 2)
    assert.equal(await metric('herald_auth_failures_total', '{reason="bad-credentials"}'), before.fails + 1)
    assert.ok(await metric('herald_http_request_duration_seconds_count', '{method="GET",route="/healthz",status="200"}') >= before.http + 1)
    await a.endAsync()
    await b.endAsync()
    const end = Date.now() + 3000
    while (await metric('herald_mqtt_connections') !== before.conns && Date.now() < end) await sleep(20)
    assert.equal(await metric('herald_mqtt_connections'), before.conns)
  })

  test('JSON error model: unknown path 404, bad JSON 400, oversized body 413', async () => {
    const nf = await fetch(`${h.httpUrl}/no/such/path?x=1`)
    assert.deepEqual([nf.status, await nf.json()], [404, { error: 'unhandled path in request: /no/such/path' }])
    const bad = await fetch(`${h.httpUrl}/api/v1/mqtt/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })
    assert.equal(bad.status, 400)
    assert.equal(typeof ((await bad.json()) as { error: unknown }).error, 'string')
    const big = await fetch(`${h.httpUrl}/api/v1/mqtt/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'x'.repeat(200_000), password: 'y' }),
    })
    assert.equal(big.status, 413)
    assert.equal(typeof ((await big.json()) as { error: unknown }).error, 'string')
  })
})

/** Run the real `herald` command; resolves with its exit code and output. */
function herald(args: string[], env: NodeJS.ProcessEnv): { done: Promise<{ code: number | null; signal: string | null; out: string }>; kill(sig: NodeJS.Signals): void } {
  const child = spawn(process.execPath, ['bin/herald.js', ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { out += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const done = new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) => {
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out }) })
  })
  return { done, kill: (sig) => child.kill(sig) }
}

/** Poll /readyz of a child `herald serve` (bounded: 30 s). */
async function waitReady(httpPort: number): Promise<boolean> {
  const end = Date.now() + 30_000
  while (Date.now() < end) {
    if (await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.status === 200, () => false)) return true
    await sleep(100)
  }
  return false
}

describe('the herald command', () => {
  const serveEnv = async (dataDir: string) => ({
    HERALD_DATA_DIR: dataDir, HERALD_HOST: '127.0.0.1', HERALD_DIALECTS: ',',
    HERALD_HTTP_PORT: String(await freePort()), HERALD_MQTT_PORT: String(await freePort()),
    HERALD_HTTPS_PORT: 'off', HERALD_MQTTS_PORT: 'off', HERALD_METRICS_PORT: String(await freePort()),
  })

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    test(`herald serve stops cleanly on ${sig} with a client connected, exit code 0`, async () => {
      const dataDir = join(tmp, `serve-${sig}`)
      const env = await serveEnv(dataDir)
      const p = herald(['serve'], env)
      assert.ok(await waitReady(Number(env.HERALD_HTTP_PORT)), 'herald serve became ready')
      const c = await connect(`mqtt://127.0.0.1:${env.HERALD_MQTT_PORT}`, { username: 'herald', password: 'wrong' }).catch(() => null)
      assert.equal(c, null, 'production mode: no fixed service password')
      p.kill(sig)
      const r = await p.done
      assert.equal(r.code, 0, r.out)
      assert.match(r.out, new RegExp(`"signal":"${sig}"`))
      assert.match(r.out, /"msg":"stopped"/)
      // production mode without HERALD_SERVICE_PASSWORD: a random password, printed once
      assert.equal((r.out.match(/service account herald password for this run: [0-9a-f]{48}/g) ?? []).length, 1)
    })
  }

  test('herald serve generates a development TLS certificate on first start and reuses it', async () => {
    const dataDir = join(tmp, 'tls-first-start')
    const certFile = join(dataDir, 'tls', 'dev-cert.pem')
    let first = ''
    for (let run = 0; run < 2; run++) {
      const env = { ...await serveEnv(dataDir), HERALD_MQTTS_PORT: String(await freePort()), HERALD_MODE: 'development' }
      const p = herald(['serve'], env)
      assert.ok(await waitReady(Number(env.HERALD_HTTP_PORT)), 'herald serve became ready')
      const cert = readFileSync(certFile, 'utf8')
      if (run === 0) first = cert
      else assert.equal(cert, first, 'the second start keeps the certificate')
      const c = await connect(`mqtts://127.0.0.1:${env.HERALD_MQTTS_PORT}`, { ca: cert, username: 'herald', password: 'herald-dev' })
      await c.endAsync()
      p.kill('SIGTERM')
      const r = await p.done
      assert.equal(r.code, 0, r.out)
      assert.match(r.out, /using a self-signed development certificate/)
    }
  })

  test('herald config prints the effective configuration with secrets masked', async () => {
    const r = await herald(['config', '--http-port', '9999'], {
      HERALD_SERVICE_PASSWORD: 'hunter2', HERALD_DATABASE_URL: 'postgres://app:s3cret@db/herald', HERALD_MQTT_PORT: '1999',
    }).done
    assert.equal(r.code, 0, r.out)
    const cfg = JSON.parse(r.out) as Record<string, unknown>
    assert.equal(cfg['http.port'], 9999)
    assert.equal(cfg['mqtt.port'], 1999)
    assert.equal(cfg['service.password'], '****')
    assert.equal(cfg.databaseUrl, 'postgres://app:****@db/herald')
    assert.ok(!r.out.includes('hunter2') && !r.out.includes('s3cret'))
  })

  test('herald config reports an invalid setting and exits 1', async () => {
    const r = await herald(['config'], { HERALD_HTTP_PORT: 'nope' }).done
    assert.equal(r.code, 1)
    assert.match(r.out, /herald: http\.port \(HERALD_HTTP_PORT\)/)
  })

  test('herald user add, list and remove', async () => {
    const env = { HERALD_DATA_DIR: join(tmp, 'users') }
    const add = await herald(['user', 'add', 'dev1', 'pw1'], env).done
    assert.equal(add.code, 0, add.out)
    assert.match(add.out, /user dev1 saved/)
    const su = await herald(['user', 'add', 'ops', 'pw2', '--superuser'], env).done
    assert.match(su.out, /user ops saved \(superuser\)/)
    const list = await herald(['user', 'list'], env).done
    const lines = list.out.trim().split('\n')
    assert.deepEqual(lines.map((l) => l.split('\t').slice(0, 2).join(' ')), ['dev1 ' + lines[0].split('\t')[1], 'ops superuser'])
    assert.ok(!list.out.includes('pw1'))
    const rm = await herald(['user', 'remove', 'dev1'], env).done
    assert.equal(rm.code, 0, rm.out)
    const again = await herald(['user', 'remove', 'dev1'], env).done
    assert.equal(again.code, 1)
    assert.match(again.out, /no user dev1/)
    const after = await herald(['user', 'list'], env).done
    assert.deepEqual(after.out.trim().split('\n').map((l) => l.split('\t')[0]), ['ops'])

    // the account works against a server on the same data directory
    const ports = { http: await freePort(), mqtt: await freePort() }
    const serve = herald(['serve'], { ...env, HERALD_HOST: '127.0.0.1', HERALD_DIALECTS: ',', HERALD_HTTPS_PORT: 'off', HERALD_MQTTS_PORT: 'off', HERALD_METRICS_PORT: 'off',
      HERALD_HTTP_PORT: String(ports.http), HERALD_MQTT_PORT: String(ports.mqtt), HERALD_SERVICE_PASSWORD: 'configured-svc-pw' })
    try {
      assert.ok(await waitReady(ports.http), 'herald serve became ready')
      const c = await connect(`mqtt://127.0.0.1:${ports.mqtt}`, { username: 'ops', password: 'pw2' })
      await c.endAsync()
      await assert.rejects(connect(`mqtt://127.0.0.1:${ports.mqtt}`, { username: 'dev1', password: 'pw1' }), /Bad username or password/)
      // HERALD_SERVICE_PASSWORD is the service account's password, and it is never logged
      const svc = await connect(`mqtt://127.0.0.1:${ports.mqtt}`, { username: 'herald', password: 'configured-svc-pw' })
      await svc.endAsync()
    } finally {
      serve.kill('SIGTERM')
      const r = await serve.done
      assert.equal(r.code, 0)
      assert.ok(!r.out.includes('configured-svc-pw'))
      assert.ok(!r.out.includes('password for this run'))
    }
  })
})
