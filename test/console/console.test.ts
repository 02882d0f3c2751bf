// The console in a real Chromium (issue 15 item 2): log in, live charts move while a client publishes, find and kick a
// client (the mqtt.js client sees the disconnect), the topic tree, each dialect's page, the server page; desktop and
// phone size; no console errors or failed requests. Screenshots go to the test's temp directory and to
// /tmp/herald-console-shots/ for people to look at.
import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'puppeteer-core'
import { createDialects } from '../../src/dialects/index.ts'
import { connect, eventually, requireService, startTestHerald, type TestHerald } from '../helpers.ts'

const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium'
const SHOTS_COPY = '/tmp/herald-console-shots'
const DIALECTS = ['heartsms', 'chat21', 'synrc', 'push']

describe('console in Chromium', requireService(existsSync(CHROMIUM), `Chromium (${CHROMIUM}; apt-get install chromium)`), () => {
  let h: TestHerald
  let browser: Browser
  let page: Page
  const shots = mkdtempSync(join(tmpdir(), 'herald-console-shots-'))
  const problems: string[] = []
  let closing = false
  /** signing out aborts the event stream on purpose */
  let signedOut = false

  const shot = async (name: string) => { await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true }) }
  const go = async (hash: string) => { await page.evaluate((x) => { location.hash = x }, hash) }

  before(async () => {
    const dialects = createDialects()
    h = await startTestHerald({
      dialects, settings: dialects.flatMap((d) => d.settings ?? []),
      overrides: { 'push.port': 0, 'hooks.secret': 'console-hooks-secret-1', 'service.password': 'console-service-secret-2' },
    })
    await h.users.add('root', 'root-pw', true)
    const { default: puppeteer } = await import('puppeteer-core')
    browser = await puppeteer.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
    })
    page = await browser.newPage()
    await page.setViewport({ width: 1280, height: 900 })
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`) })
    page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`))
    page.on('requestfailed', (r) => { if (!closing && !(signedOut && r.url().endsWith('/api/v1/admin/events'))) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`) })
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`) })
  })

  after(async () => {
    closing = true
    await browser?.close()
    await h?.close()
    if (existsSync(shots)) {
      mkdirSync(SHOTS_COPY, { recursive: true })
      cpSync(shots, SHOTS_COPY, { recursive: true })
      rmSync(shots, { recursive: true, force: true })
    }
  })

  test('the console page has a CSP without inline script, and the login form signs a superuser in', async () => {
    const res = await page.goto(`${h.httpUrl}/console`, { waitUntil: 'load' })
    const csp = res!.headers()['content-security-policy']
    assert.match(csp, /script-src 'self'/)
    assert.doesNotMatch(csp, /unsafe-inline/)
    await page.waitForSelector('#login-form', { visible: true })
    await shot('login-desktop')
    await page.type('#login-user', 'root')
    await page.type('#login-password', 'root-pw')
    await page.click('#login-submit')
    await page.waitForSelector('#app', { visible: true })
    await page.waitForFunction(() => document.querySelectorAll('#charts .chart canvas').length === 7)
    // the password is not kept; the short-lived token is
    const stored = await page.evaluate(() => JSON.stringify(Object.entries(sessionStorage)))
    assert.ok(!stored.includes('root-pw'))
    assert.match(stored, /hrls_/)
  })

  test('the overview charts move while a client publishes', async () => {
    await go('#/overview')
    await page.waitForFunction(() => (window as any).heraldCharts.messages.data[0].length >= 2)
    const snapshot = () => page.evaluate(() => {
      const u = (window as any).heraldCharts.messages
      return { n: u.data[0].length as number, maxIn: Math.max(0, ...(u.data[1] as number[])), canvas: (u.root.querySelector('canvas') as HTMLCanvasElement).toDataURL() }
    })
    const a = await snapshot()
    const c = await connect(h.mqttUrl, { clientId: 'console-publisher', username: 'root', password: 'root-pw' })
    const timer = setInterval(() => { c.publish('console/load', 'x') }, 10)
    try {
      await page.waitForFunction((n0: number) => {
        const u = (window as any).heraldCharts.messages
        return u.data[0].length > n0 && (u.data[1] as number[]).slice(-5).some((v) => v > 0)
      }, { timeout: 15_000 }, a.n)
    } finally {
      clearInterval(timer)
      c.end(true)
    }
    const b = await snapshot()
    assert.ok(b.n > a.n, 'more samples')
    assert.ok(b.maxIn > 0, 'a message rate above zero')
    assert.notEqual(b.canvas, a.canvas, 'the chart was redrawn with the new data')
    await page.waitForFunction(() => document.querySelectorAll('#stats .stat').length === 8)
    await shot('overview-desktop')
  })

  test('the clients page finds a connected client and kicks it; the mqtt.js client sees the disconnect', async () => {
    const victim = await connect(h.mqttUrl, { clientId: 'console-victim', username: 'root', password: 'root-pw' })
    const other = await connect(h.mqttUrl, { clientId: 'console-bystander', username: 'root', password: 'root-pw' })
    try {
      await victim.subscribeAsync('console/#', { qos: 1 })
      const closed = new Promise<void>((r) => victim.once('close', () => r()))
      await go('#/clients')
      await page.waitForSelector('#client-rows tr[data-client="console-bystander"]')
      await page.waitForSelector('#client-rows tr[data-client="console-victim"]')
      // sort by client id, then the other way
      const ids = () => page.$$eval('#client-rows tr', (rows) => rows.map((r) => r.getAttribute('data-client')).filter((x) => x?.startsWith('console-')))
      await page.click('th[data-sort="id"]')
      await page.waitForSelector('th[data-sort="id"].sorted:not(.desc)')
      assert.deepEqual(await ids(), ['console-bystander', 'console-victim'])
      await page.click('th[data-sort="id"]')
      await page.waitForSelector('th[data-sort="id"].sorted.desc')
      assert.deepEqual(await ids(), ['console-victim', 'console-bystander'])
      await shot('clients-desktop')
      await page.type('#client-search', 'victim')
      await page.waitForFunction(() => {
        const rows = [...document.querySelectorAll('#client-rows tr')]
        return rows.length === 1 && rows[0].getAttribute('data-client') === 'console-victim'
      })
      assert.match(await page.$eval('#client-rows tr', (tr) => tr.textContent ?? ''), /console\/# \(QoS 1\)/)
      await page.click('button[data-kick="console-victim"]')
      await page.waitForFunction(() => document.querySelector('button[data-kick="console-victim"]')?.textContent === 'Confirm kick')
      await page.click('button[data-kick="console-victim"]')
      await closed
      await page.waitForFunction(() => document.querySelectorAll('#client-rows tr').length === 0)
      await page.$eval('#client-search', (i) => { (i as HTMLInputElement).value = ''; i.dispatchEvent(new Event('input')) })
      await page.waitForSelector('#client-rows tr[data-client="console-bystander"]')
    } finally {
      victim.end(true)
      other.end(true)
    }
  })

  test('the topics page shows the topic tree with subscriber counts and retained messages', async () => {
    const c = await connect(h.mqttUrl, { clientId: 'console-topics', username: 'root', password: 'root-pw' })
    try {
      await c.subscribeAsync('sensors/+/temp')
      await c.publishAsync('sensors/kitchen/temp', '21.5', { qos: 1, retain: true })
      await eventually(async () => {
        const r = await fetch(`${h.httpUrl}/api/v1/admin/topics?q=kitchen`, { headers: { authorization: `Basic ${Buffer.from('root:root-pw').toString('base64')}` } })
        return ((await r.json()) as { total: number }).total > 0
      }, 'the retained message listed')
      await go('#/topics')
      await page.waitForSelector('li[data-topic="sensors/kitchen/temp"] .badge.retained')
      await page.waitForSelector('li[data-topic="sensors/+/temp"] .badge')
      await shot('topics-desktop')
    } finally {
      c.end(true)
    }
  })

  test('each dialect has its page with its own summary', async () => {
    const expected: Record<string, RegExp> = { heartsms: /accounts[\s\S]*devices/, chat21: /conversations[\s\S]*webhooks/, synrc: /users[\s\S]*rooms[\s\S]*connected Devices/i, push: /devices[\s\S]*xmpp/i }
    for (const name of DIALECTS) {
      assert.ok(await page.$(`#nav a[href="#/dialect/${name}"]`), `nav link for ${name}`)
      await go(`#/dialect/${name}`)
      await page.waitForFunction((n: string) => document.getElementById('dialect-name')?.textContent === n && document.querySelector('#dialect-summary table'), {}, name)
      assert.match(await page.$eval('#dialect-summary', (e) => e.textContent ?? ''), expected[name])
      await shot(`dialect-${name}-desktop`)
    }
  })

  test('the server page shows listeners and the configuration, never a secret', async () => {
    await go('#/server')
    await page.waitForFunction(() => (document.getElementById('server-info')?.textContent ?? '').includes('hooks.secret'))
    const text = await page.$eval('#server-info', (e) => e.textContent ?? '')
    for (const s of ['console-hooks-secret-1', 'console-service-secret-2', 'root-pw']) assert.ok(!text.includes(s), s)
    await shot('server-desktop')
  })

  test('every page fits a phone-sized screen (390x844)', async () => {
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
    const pages = ['overview', 'clients', 'topics', ...DIALECTS.map((d) => `dialect/${d}`), 'server']
    const c = await connect(h.mqttUrl, { clientId: 'console-phone', username: 'root', password: 'root-pw' })
    try {
      for (const p of pages) {
        await go(`#/${p}`)
        await page.waitForFunction((id: string) => !document.getElementById(id)?.hidden, {}, `page-${p.split('/')[0]}`)
        if (p === 'clients') await page.waitForSelector('#client-rows tr[data-client="console-phone"]')
        if (p.startsWith('dialect/')) await page.waitForFunction((n: string) => document.getElementById('dialect-name')?.textContent === n && document.querySelector('#dialect-summary table'), {}, p.split('/')[1])
        if (p === 'server') await page.waitForSelector('#server-info table')
        // charts follow the width
        if (p === 'overview') await page.waitForFunction(() => [...document.querySelectorAll('#charts canvas')].every((cv) => (cv as HTMLCanvasElement).getBoundingClientRect().width <= 390))
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth)
        assert.ok(overflow <= 390, `${p} is ${overflow}px wide`)
        await shot(`${p.replace('/', '-')}-phone`)
      }
    } finally {
      c.end(true)
    }
  })

  test('signing out returns to the login form and ends the token', async () => {
    const token = await page.evaluate(() => sessionStorage.getItem('herald.console.token'))
    assert.ok(token)
    signedOut = true
    await page.click('#logout')
    await page.waitForSelector('#login-form', { visible: true })
    await shot('login-phone')
    await eventually(async () => (await fetch(`${h.httpUrl}/api/v1/admin/server`, { headers: { authorization: `Bearer ${token}` } })).status === 401, 'the token ended')
  })

  test('no console errors and no failed requests in the page', () => {
    assert.deepEqual(problems, [])
  })
})

