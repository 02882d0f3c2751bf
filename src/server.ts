// Composition root: reads the configuration, builds every part, starts and stops them in order.
import type http from 'node:http'
import type net from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { bool, coreSettings, list, num, port, str, type Config, settingHint } from './config.ts'
import { registerAdmin, type Admin } from './core/admin/index.ts'
import { systemClock, type Clock } from './core/clock.ts'
import { AccessControl } from './core/access/access.ts'
import { loadAclFile } from './core/access/acl-file.ts'
import { MemoryAccessState, type AccessState } from './core/access/state.ts'
import { StoreAccessState } from './core/store/access-state.ts'
import { EmbeddedBus } from './core/bus/embedded.ts'
import { ExternalBus } from './core/bus/external.ts'
import type { Bus } from './core/bus/types.ts'
import { registerBrokerHooks } from './core/http/broker-hooks.ts'
import { createMetrics, type Metrics } from './core/http/metrics.ts'
import { createHttp, type HttpApp } from './core/http/server.ts'
import { createPresence } from './core/presence/create.ts'
import { feedFromSessions, HookPresenceFeed } from './core/presence/feed.ts'
import type { Presence } from './core/presence/types.ts'
import { Outbox } from './core/queue/outbox.ts'
import { pushFromConfig } from './core/push/create.ts'
import type { PushDispatcher } from './core/push/dispatcher.ts'
import { checkSessionNeeds, externalBrokerName, UnsupportedSessions } from './core/sessions/external.ts'
import { RabbitMqSessions } from './core/sessions/rabbitmq.ts'
import type { Sessions } from './core/sessions/types.ts'
import { migrate, openStore, type Store } from './core/store/db.ts'
import { collectGarbage } from './core/util/heap.ts'
import { secretOrRandom } from './core/util/secrets.ts'
import { coreMigrations, userAuthenticator, UserStore } from './core/store/users.ts'
import { certificateFieldOf } from './core/identity/peer.ts'
import { CERTS_PREFIX, clientAuthOf, EST_PREFIX, tlsGates, trustedClientCas, type Identity } from './core/identity/tls.ts'
import { ldapAuthenticator, ldapFromConfig } from './core/identity/ldap.ts'
import type { Dialect, DialectContext } from './dialects/types.ts'
import { createLogger, startUrls } from './log.ts'
import { createEmbeddedBroker, type EmbeddedBroker } from './transport/broker.ts'
import { emitterKindOf, mqttRedisUrl, persistenceKindOf } from './transport/persistence-settings.ts'
import { loadTls, type TlsMaterial } from './transport/devcert.ts'
import { limitsFromSettings } from './transport/limits.ts'
import { attachWebSocket, closeServer, httpsServer, listen, mqttServer, mqttsServer } from './transport/listeners.ts'

export interface HeraldOptions {
  config: Config
  dialects: Dialect[]
  log?: Logger
  /** time for presence expiry (tests pass a ManualClock) */
  clock?: Clock
}

export interface Herald {
  config: Config
  log: Logger
  access: AccessControl
  store: Store
  /** the durable job queue (src/core/queue) */
  outbox: Outbox
  /** the push dispatcher every dialect's ctx.push is (src/core/push) */
  pushDispatch: PushDispatcher
  bus: Bus
  metrics: Metrics
  presence: Presence
  /** the clients' sessions (embedded broker; an external one where it allows it) */
  sessions: Sessions
  broker?: EmbeddedBroker
  users: UserStore
  /** actual ports (0 in the configuration picks a free one) */
  ports: Record<string, number>
  servicePassword: string
  /** the OpenAPI document of the main HTTP API, generated from every route's schema */
  openapi(): Record<string, unknown>
  stop(): Promise<void>
}

const DEV_SERVICE_PASSWORD = 'herald-dev'

function servicePassword(cfg: Config, log: Logger): string {
  return secretOrRandom({
    configured: str(cfg, 'service.password'), fixed: cfg.mode === 'development' ? DEV_SERVICE_PASSWORD : undefined, bytes: 24,
    // printed once, by design: the operator needs it and it changes at every start
    onRandom: (pw) => log.warn(`service account ${str(cfg, 'service.username')} password for this run: ${pw}`),
  })
}

const ACCESS_SWEEP_MS = 10 * 60_000
/** a full garbage collection this long after `herald ready`, when the first clients' start-up work is done */
const SETTLE_AFTER_START_MS = 2000

/** issue 9 §3: on a shared database (several nodes) the access layer's state lives in it; one node keeps it in memory */
function accessState(cfg: Config, store: Store): AccessState {
  const o = {
    failLimit: num(cfg, 'auth.failLimit'), failWindowMs: num(cfg, 'auth.failWindowMs'),
    clientIdHoldMs: num(cfg, 'auth.clientIdHoldMs'), rememberMs: num(cfg, 'auth.clientIdHoldMs'),
  }
  const where = str(cfg, 'auth.state')
  return where === 'store' || (where === 'auto' && store.kind === 'postgres') ? new StoreAccessState(store.db, o) : new MemoryAccessState(o)
}

/** Each dialect's routes, registered under its prefix on the main app or on the dialect's own port. */
async function mountRoutes(dialects: Dialect[], main: FastifyInstance, extraHttp: DialectContext['extraHttp']): Promise<void> {
  for (const d of dialects) {
    const own = new Map<number, FastifyInstance>()
    for (const r of d.routes?.() ?? []) {
      let target = main
      if (r.port !== undefined) {
        if (!own.has(r.port)) own.set(r.port, (await extraHttp(d.name, r.port)).app)
        target = own.get(r.port)!
      }
      await target.register(r.plugin, { prefix: r.prefix })
    }
  }
}

function deniedPublishOf(v: string): 'drop' | 'disconnect' {
  if (v !== 'drop' && v !== 'disconnect') throw new Error(`mqtt.deniedPublish (HERALD_MQTT_DENIED_PUBLISH) is drop or disconnect, not ${v}`)
  return v
}

export async function startHerald(o: HeraldOptions): Promise<Herald> {
  const cfg = o.config
  const log = o.log ?? createLogger(str(cfg, 'logLevel'), str(cfg, 'logFormat'))
  const development = cfg.mode === 'development'
  const metrics = createMetrics()
  // a bad HERALD_LDAP_* setting stops the start before anything is opened
  const ldap = ldapFromConfig(cfg, log.child({ part: 'ldap' }))
  const store = openStore({ databaseUrl: str(cfg, 'databaseUrl'), dataDir: str(cfg, 'dataDir') })
  const outbox = new Outbox({ db: store.db, kind: store.kind, clock: o.clock, registry: metrics.registry, log: log.child({ part: 'outbox' }) })
  const state = accessState(cfg, store)
  const access = new AccessControl({
    state,
    onStateError: (err, what) => log.warn({ err, what }, 'access state update failed'),
    allowAnonymous: bool(cfg, 'auth.allowAnonymous'),
    failLimit: num(cfg, 'auth.failLimit'),
    failWindowMs: num(cfg, 'auth.failWindowMs'),
    clientIdHoldMs: num(cfg, 'auth.clientIdHoldMs'),
    grantOwned: list(cfg, 'auth.grantOwned'),
  })
  // issue 9 §3: only the dialects bound to a listener answer its logins
  access.bindListener('mqtt', list(cfg, 'mqtt.dialects'))
  access.bindListener('mqtts', list(cfg, 'mqtts.dialects'))
  access.bindListener('ws', list(cfg, 'http.wsDialects'))
  access.bindListener('wss', list(cfg, 'http.wsDialects'))
  access.bindListener('hook', list(cfg, 'hooks.dialects'))
  if (str(cfg, 'auth.aclFile')) access.addRules(loadAclFile(str(cfg, 'auth.aclFile')), true)

  const servers: net.Server[] = []
  const extraApps: HttpApp[] = []
  let broker: EmbeddedBroker | undefined
  let presence: Presence | undefined
  let bus: Bus | undefined
  let externalSessions: Sessions | undefined
  let main: HttpApp | undefined
  let ready = false
  let identity: Identity | undefined
  const started: Dialect[] = []
  let push: PushDispatcher | undefined
  let admin: Admin | undefined

  // the shared access state's expired rows (failure windows, released client ids, hook logins) are deleted now and then
  const sweeper = state.sweep && setInterval(() => {
    state.sweep!().catch((err: unknown) => log.warn({ err }, 'access state sweep failed'))
  }, ACCESS_SWEEP_MS).unref()

  let settle: NodeJS.Timeout | undefined
  const stop = async () => {
    ready = false
    if (sweeper) clearInterval(sweeper)
    clearTimeout(settle)
    await admin?.stop()
    for (const s of servers) s.close()
    await Promise.allSettled([main?.app.close(), ...extraApps.map((a) => a.app.close())])
    for (const d of started.reverse()) await d.stop?.().catch((err) => log.error({ err, dialect: d.name }, 'dialect stop failed'))
    await outbox.stop()
    await push?.stop()
    await broker?.close()
    identity?.close()
    await ldap?.close()
    await bus?.close().catch(() => {})
    await externalSessions?.close()
    await presence?.close().catch((err: unknown) => log.error({ err }, 'presence close failed'))
    await Promise.all(servers.map(closeServer))
    await store.close()
  }

  try {
    const clock = o.clock ?? systemClock
    const presenceError = (err: unknown, clientId?: string) => log.warn({ err, clientId }, 'presence update failed')
    presence = await createPresence({
      redisUrl: str(cfg, 'presence.redisUrl'), redisPrefix: str(cfg, 'presence.redisPrefix'),
      nodeTtlMs: num(cfg, 'presence.nodeTtlMs'), clock, onError: presenceError,
    })
    const present = presence
    await migrate(store.db, 'core', coreMigrations)
    for (const d of o.dialects) if (d.migrations) await migrate(store.db, d.name, d.migrations)
    const users = new UserStore(store.db)
    // before the dialects' setup, which may register onEndpointGone; its senders start after the dialects started
    push = await pushFromConfig(cfg, store, { clock: o.clock, registry: metrics.registry, log: log.child({ part: 'push' }) })
    const pushService = push
    access.addAuthenticator(userAuthenticator(users))
    // issue 13 item 4: directory users after Herald's own accounts, before the dialects' accounts
    if (ldap) access.addAuthenticator(ldapAuthenticator(ldap))
    const svcPassword = servicePassword(cfg, log)
    access.addServiceAccount(str(cfg, 'service.username'), svcPassword)
    // issue 13: Herald's CA (made on first start) and EST, whose Basic logins are Herald accounts (no client id to claim)
    // the CA, EST and CRL code (x509, pkijs: ~25 MB resident) loads only when Herald's CA or a client CRL is on
    const identityLayer = bool(cfg, 'ca.enabled') || str(cfg, 'tls.clientCrl') ? await import('./core/identity/index.ts') : undefined
    identity = await identityLayer?.startIdentity({
      config: cfg, log, store,
      authenticate: async (username, password, ip) => {
        const r = await access.authenticate({ username, password, clientId: '', ip, listener: 'https' })
        return r.ok ? r.principal.username : undefined
      },
    })

    const clientAuth = clientAuthOf(cfg)
    const gate = tlsGates({ identity, mode: clientAuth, log, crl: identity ? undefined : identityLayer?.crlWatchOf(cfg, log) })
    // the name of a verified client certificate that is the login on MQTTS, secure WebSocket and HTTPS
    const certificateField = certificateFieldOf(cfg)
    const host = str(cfg, 'host')
    const external = str(cfg, 'broker.url')
    const ports: Record<string, number> = {}
    // the dialects' own HTTP ports, for the start line's URLs
    const httpPorts = new Set<string>()
    const pendingListens: (() => Promise<void>)[] = []
    let tlsMaterial: TlsMaterial | undefined
    // also a dialect's own TLS listener asks for it (ctx.tls)
    const tlsOf = (): TlsMaterial => {
      if (tlsMaterial) return tlsMaterial
      tlsMaterial = loadTls({ cert: str(cfg, 'tls.cert'), key: str(cfg, 'tls.key'), clientCa: str(cfg, 'tls.clientCa'), dataDir: str(cfg, 'dataDir') })
      if (tlsMaterial.generated) log.info({ cert: tlsMaterial.certFile }, 'using a self-signed development certificate')
      tlsMaterial.ca = trustedClientCas(tlsMaterial.ca, identity, clientAuth)
      return tlsMaterial
    }
    const tlsNeeded = port(cfg, 'https.port') !== null || (!external && port(cfg, 'mqtts.port') !== null)
    if (tlsNeeded) tlsOf()

    if (!external) {
      broker = await createEmbeddedBroker({
        access, metrics, log, certificateField,
        maxPacketSize: num(cfg, 'mqtt.maxPacketSize'),
        maxSubscriptions: num(cfg, 'mqtt.maxSubscriptions'),
        maxConnectionsPerPrincipal: num(cfg, 'mqtt.maxConnectionsPerPrincipal'),
        deniedPublish: deniedPublishOf(str(cfg, 'mqtt.deniedPublish')),
        keepaliveLimit: num(cfg, 'mqtt.keepaliveLimit'),
        topicAliasMaximum: num(cfg, 'mqtt.topicAliasMaximum'),
        receiveMaximum: num(cfg, 'mqtt.receiveMaximum'),
        sessionExpiryLimit: num(cfg, 'mqtt.sessionExpiryLimit'),
        limits: limitsFromSettings((k) => num(cfg, k)), version: '0.1.0',
        durable: persistenceKindOf(str(cfg, 'mqtt.persistence')) === 'store'
          ? { db: store.db, kind: store.kind, maxQueued: num(cfg, 'mqtt.maxQueued'), queuedExpiryMs: num(cfg, 'mqtt.queuedExpiryMs') }
          : undefined,
        redisPersistenceUrl: persistenceKindOf(str(cfg, 'mqtt.persistence')) === 'redis' ? mqttRedisUrl((k) => str(cfg, k), 'mqtt.persistence=redis') : undefined,
        redisEmitter: emitterKindOf(str(cfg, 'mqtt.emitter')) === 'redis'
          ? { url: mqttRedisUrl((k) => str(cfg, k), 'mqtt.emitter=redis'), prefix: str(cfg, 'mqtt.emitterPrefix'), heartbeatMs: heartbeatMs(num(cfg, 'mqtt.heartbeatMs')) }
          : undefined,
      })
      feedFromSessions(present, broker.sessions, presenceError)
      bus = new EmbeddedBus(broker, (err, topic) => log.error({ err, topic }, 'bus handler failed'))
    }
    const amqpUrl = str(cfg, 'broker.amqpUrl')
    const managementUrl = str(cfg, 'broker.managementUrl')
    const sessions: Sessions = broker
      ? broker.sessions
      : amqpUrl && managementUrl
        ? (externalSessions = await RabbitMqSessions.connect({
            amqpUrl, managementUrl, lookup: (user, clientId) => access.lookup(user, clientId),
            onError: (err, event, clientId) => log.warn({ err, event, clientId }, 'rabbitmq session event failed'),
          }))
        : new UnsupportedSessions(externalBrokerName(external))
    // a dialect that needs what this broker's sessions cannot do is refused here, naming both
    checkSessionNeeds(o.dialects, sessions)
    // an external broker's connect/disconnect events, where its Sessions has them (the hook calls feed presence too)
    if (!broker && sessions.capabilities.events) feedFromSessions(present, sessions, presenceError)

    const metricsToken = str(cfg, 'metrics.token')
    main = await createHttp({
      bodyLimit: num(cfg, 'http.bodyLimit'), metrics, log, health: { ready: () => ready && o.dialects.every((d) => d.ready?.() ?? true) }, certificateField,
      serveMetrics: metricsToken ? { token: metricsToken } : undefined, docs: true,
    })
    registerBrokerHooks(main.app, access, metrics, { secret: str(cfg, 'hooks.secret'), allow: list(cfg, 'hooks.allow'),
      presence: new HookPresenceFeed(present, { clock, ttlMs: num(cfg, 'presence.hookTtlMs'), onError: presenceError }),
    })
    const metricsPort = port(cfg, 'metrics.port')
    if (metricsPort !== null) {
      const m = await createHttp({ bodyLimit: 1024, metrics, log: log.child({ listener: 'metrics' }), serveMetrics: {} })
      extraApps.push(m)
      await m.app.ready()
      ports.metrics = await listen(m.server, metricsPort, str(cfg, 'metrics.host'), settingHint('metrics.port'))
      servers.push(m.server)
    }

    const ctx: DialectContext = {
      config: cfg, log, store, access: access.registry('core'), presence: present, sessions, metrics, development,
      http: main.app,
      outbox,
      push: pushService,
      get bus(): Bus {
        if (!bus) throw new Error('the bus is not connected yet: use it in start(), not setup()')
        return bus
      },
      async extraHttp(name, p) {
        // listens after every dialect's setup, once its routes are registered
        const app = await createHttp({ bodyLimit: num(cfg, 'http.bodyLimit'), metrics, log: log.child({ dialect: name }), docs: true })
        httpPorts.add(name)
        extraApps.push(app)
        pendingListens.push(async () => {
          await app.app.ready()
          ports[name] = await listen(app.server, p, host, `the ${name} port setting`)
          servers.push(app.server)
        })
        return app
      },
      tls: tlsOf,
      async listen(name, server, p, hint) {
        ports[name] = await listen(server, p, host, hint)
        servers.push(server)
        return ports[name]
      },
      async extraWebSocket(p, paths) {
        if (!broker) throw new Error('an extra WebSocket listener needs the embedded broker')
        const app = await createHttp({ bodyLimit: num(cfg, 'http.bodyLimit'), metrics, log })
        extraApps.push(app)
        attachWebSocket(app.server, broker, paths, `ws:${paths[0]}`)
        ports[`ws:${paths[0]}`] = await listen(app.server, p, host, 'the WebSocket port setting')
        servers.push(app.server)
        await app.app.ready()
      },
    }
    // each dialect sees its own part of the access layer; a WebSocket listener of its own answers for it alone
    const contextOf = (d: Dialect): DialectContext => Object.create(ctx, {
      access: { value: access.registry(d.name) },
      extraWebSocket: {
        value: (p: number, paths: string[]) => {
          access.bindListener(`ws:${paths[0]}`, [d.name])
          return ctx.extraWebSocket(p, paths)
        },
      },
    }) as DialectContext
    const contexts = new Map(o.dialects.map((d) => [d, contextOf(d)]))
    for (const d of o.dialects) {
      if (d.setup) await d.setup(contexts.get(d)!)
    }
    if (identity) await main.app.register(identity.est, { prefix: EST_PREFIX })
    if (identity) await main.app.register(identity.certs, { prefix: CERTS_PREFIX })
    await mountRoutes(o.dialects, main.app, ctx.extraHttp)
    // issue 15: the admin API, the console and GET /
    admin = await registerAdmin({
      app: main.app, config: cfg, settings: [...coreSettings, ...o.dialects.flatMap((d) => d.settings ?? [])], metrics, sessions, store, users,
      bus: () => bus, ports, brokerUrl: external, dialects: o.dialects,
    })
    await main.app.ready()
    for (const l of pendingListens) await l()

    const httpPort = port(cfg, 'http.port')
    if (httpPort !== null) {
      ports.http = await listen(main.server, httpPort, host, settingHint('http.port'))
      servers.push(main.server)
    }
    const httpsPort = port(cfg, 'https.port')
    let secure: http.Server | undefined
    if (httpsPort !== null && tlsMaterial) {
      secure = httpsServer(main.handler, tlsMaterial, gate('https'))
      ports.https = await listen(secure, httpsPort, host, settingHint('https.port'))
      servers.push(secure)
    }
    if (broker) {
      const wsPaths = list(cfg, 'http.wsPaths')
      if (httpPort !== null) attachWebSocket(main.server, broker, wsPaths, 'ws')
      if (secure) attachWebSocket(secure, broker, wsPaths, 'wss')
      const mqttPort = port(cfg, 'mqtt.port')
      if (mqttPort !== null) {
        const s = mqttServer(broker)
        ports.mqtt = await listen(s, mqttPort, host, settingHint('mqtt.port'))
        servers.push(s)
      }
      const mqttsPort = port(cfg, 'mqtts.port')
      if (mqttsPort !== null && tlsMaterial) {
        const s = mqttsServer(broker, tlsMaterial, bool(cfg, 'tls.requireClientCert'), gate('mqtts'))
        ports.mqtts = await listen(s, mqttsPort, host, settingHint('mqtts.port'))
        servers.push(s)
      }
    } else {
      // the external broker may authenticate this very connection through our hook endpoints: HTTP is up by now
      bus = await ExternalBus.connect({
        url: external, username: str(cfg, 'service.username'), password: svcPassword,
        sharedGroup: str(cfg, 'broker.sharedGroup'), sharedSubscriptions: bool(cfg, 'broker.sharedSubscriptions'),
        maxInflight: num(cfg, 'broker.maxInflight'), amqpUrl: amqpUrl || undefined,
        onError: (err, topic) => log.error({ err, topic }, 'bus handler failed'),
      })
    }

    for (const d of o.dialects) {
      await d.start?.(contexts.get(d)!)
      started.push(d)
    }
    pushService.start()
    await admin.start()
    ready = true
    // issue 15 §4: where to go (console, API docs, every listener), one per line on a terminal
    const urls = startUrls({
      host, metricsHost: str(cfg, 'metrics.host'), ports, console: bool(cfg, 'console.enabled'), httpPorts,
      wsPaths: broker ? list(cfg, 'http.wsPaths') : [],
    })
    log.info({ urls, ports, database: store.where, broker: external || 'embedded', dialects: o.dialects.map((d) => d.name) }, 'herald ready')
    // what start-up allocated goes back to the system once it is garbage (idle memory, core/util/heap.ts)
    settle = setTimeout(collectGarbage, SETTLE_AFTER_START_MS).unref()
    return { config: cfg, log, access, store, bus: bus!, metrics, presence: present, sessions, broker, users, ports, servicePassword: svcPassword, openapi: () => main!.app.swagger() as unknown as Record<string, unknown>, outbox, pushDispatch: pushService, stop }
  } catch (err) {
    await stop().catch(() => {})
    throw err
  }
}

/** Aedes' cluster heartbeat (mqtt.heartbeatMs): below 100 ms a busy node would pass for gone and have its wills sent */
function heartbeatMs(ms: number): number {
  if (ms < 100) throw new Error(`mqtt.heartbeatMs (HERALD_MQTT_HEARTBEAT_MS) is at least 100, not ${ms}`)
  return ms
}
