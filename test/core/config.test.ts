// Issue 9 §5: the configuration schema refuses config-file keys that name no setting (naming the key and the file),
// reads dotted, nested and mixed spellings alike, and gives dialects a typed view of their settings.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { ConfigError, coreSettings, loadConfig, settingsOf } from '../../src/config.ts'
import { chat21Settings } from '../../src/dialects/chat21/settings.ts'
import { settings as heartsmsSettings } from '../../src/dialects/heartsms/index.ts'

const tmp = mkdtempSync(join(tmpdir(), 'herald-config-'))
after(() => rmSync(tmp, { recursive: true, force: true }))
const all = [...coreSettings, ...heartsmsSettings, ...chat21Settings]
let n = 0
function file(content: unknown): string {
  const f = join(tmp, `c${n++}.json`)
  writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content))
  return f
}
const load = (content: unknown) => { const f = file(content); return { f, cfg: () => loadConfig({ settings: all, env: {}, file: f }) } }

describe('config file keys', () => {
  test('an unknown key stops the start with a ConfigError naming the key and the file', () => {
    for (const [content, key] of [
      [{ 'http.prot': 1 }, 'http.prot'],
      [{ http: { prot: 1 } }, 'http.prot'],
      [{ htp: { port: 1 } }, 'htp'],
      [{ chat21: { http: { prefx: '/api' } } }, 'chat21.http.prefx'],
      [{ 'heartsms.article': { fetched: false } }, 'heartsms.article.fetched'],
      [{ http: { port: { value: 1 } } }, 'http.port'],
    ] as const) {
      const { f, cfg } = load(content)
      if (key === 'http.port') { assert.throws(cfg, /http\.port \(config file .*\): expected a port/); continue }
      assert.throws(cfg, (e: Error) => e instanceof ConfigError && e.message === `unknown setting ${key} in config file ${f}`)
    }
  })

  test('a dialect key is known when its dialect is in the schema, and refused when no dialect declares it', () => {
    assert.equal(load({ chat21: { appId: 'myapp' } }).cfg()['chat21.appId'], 'myapp')
    const f = file({ chat21: { appId: 'myapp' } })
    assert.throws(() => loadConfig({ settings: coreSettings, env: {}, file: f }), /unknown setting chat21 in config file/)
  })

  test('dotted, nested and mixed spellings are read alike; a key given twice is refused; $schema is ignored', () => {
    const c = load({ $schema: './herald.schema.json', 'mqtt.port': 9101, http: { port: 9001 }, heartsms: { 'article.fetch': false, login: { failLimit: 3 } } }).cfg()
    assert.deepEqual([c['mqtt.port'], c['http.port'], c['heartsms.article.fetch'], c['heartsms.login.failLimit']], [9101, 9001, false, 3])
    assert.throws(load({ 'http.port': 1, http: { port: 2 } }).cfg, /http\.port is set twice in config file/)
    assert.throws(load('[1, 2]').cfg, /config file .*: expected a JSON object of settings/)
  })

  test('herald config refuses a file with an unknown key, naming it', async () => {
    const f = file({ mqtt: { port: 1884, maxPacketSise: 10 } })
    const run = promisify(execFile)
    await assert.rejects(run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'config', '--config', f]), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 1)
      assert.match(e.stderr, new RegExp(`herald: unknown setting mqtt\\.maxPacketSise in config file ${f}`))
      return true
    })
  })
})

describe('typed settings', () => {
  test('settingsOf nests a schema at the dots of its keys, below the dialect prefix', () => {
    const cfg = loadConfig({ settings: all, env: { HERALD_CHAT21_HTTP_PORT: '8010', HERALD_CHAT21_WEBHOOK_ENDPOINTS: 'http://a,http://b' }, file: file({ chat21: { ws: { path: '/w' } } }) })
    const s = settingsOf(cfg, chat21Settings, 'chat21')
    const port: number | null = s.http.port
    const endpoints: string[] = s.webhooks.endpoints
    assert.deepEqual([port, s.http.prefix, s.ws.path, s.ws.port, endpoints, s.json.maxDepth], [8010, '/chat21/api', '/w', null, ['http://a', 'http://b'], 64])
    // @ts-expect-error: a setting the schema does not declare is a type error, not a silent undefined
    assert.equal(s.http.prefx, undefined)
    const h = settingsOf(cfg, heartsmsSettings, 'heartsms')
    const fetch: boolean = h.article.fetch
    assert.deepEqual([fetch, h.kdf.queue, h.allowedUsers], [true, 64, ''])
    const core = settingsOf(cfg, coreSettings)
    assert.equal(core.http.port, 8080)
  })

  test('settingsOf refuses a schema the configuration was not loaded with', () => {
    const cfg = loadConfig({ env: {} })
    assert.throws(() => settingsOf(cfg, chat21Settings, 'chat21'), /setting chat21\.appId is not in the loaded configuration schema/)
  })
})
