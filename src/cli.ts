// The `herald` command: serve, config, user add|list|remove.
import { Command } from 'commander'
import { coreSettings, describeConfig, flagName, loadConfig, type Config, type Setting } from './config.ts'
import { migrate, openStore } from './core/store/db.ts'
import { coreMigrations, UserStore } from './core/store/users.ts'
import { dialectCatalog, loadDialects } from './dialects/catalog.ts'
import { createLogger } from './log.ts'
import { startHerald } from './server.ts'
import { caCommands } from './core/identity/cli.ts'
import { AdminTokenStore } from './core/admin/tokens.ts'

const settings: Setting[] = [...coreSettings, ...dialectCatalog.flatMap((d) => d.settings)]

function addSettingFlags(cmd: Command): Command {
  cmd.option('-c, --config <file>', 'JSON configuration file (also HERALD_CONFIG)')
  for (const s of settings) cmd.option(`${flagName(s.key)} <value>`, `${s.description} [${s.env[0]}]`)
  return cmd
}

function configFrom(opts: Record<string, unknown>): Config {
  const flags: Record<string, unknown> = {}
  for (const s of settings) {
    const camel = flagName(s.key).slice(2).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())
    if (opts[camel] !== undefined) flags[s.key] = opts[camel]
  }
  return loadConfig({ settings, file: opts.config as string | undefined, flags })
}

async function withUsers<T>(opts: Record<string, unknown>, fn: (u: UserStore) => Promise<T>): Promise<T> {
  const cfg = configFrom(opts)
  const store = openStore({ databaseUrl: cfg.databaseUrl as string, dataDir: cfg.dataDir as string })
  try {
    await migrate(store.db, 'core', coreMigrations)
    return await fn(new UserStore(store.db))
  } finally {
    await store.close()
  }
}

const program = new Command('herald').description('Herald: self-hosted real-time messaging and push server')

addSettingFlags(program.command('serve').description('run the server')).action(async (opts) => {
  const config = configFrom(opts)
  const log = createLogger(config.logLevel as string, config.logFormat as string)
  const dialects = await loadDialects(config.dialects as string[])
  // the handlers come first: a signal during start-up (or right after the ready line) stops Herald once it is up
  type Running = Awaited<ReturnType<typeof startHerald>>
  const up: { herald?: Running } = {}
  let stopping: string | undefined
  const stop = (h: Running, signal: string) => {
    log.info({ signal }, 'stopping: draining in-flight work')
    h.stop().then(() => { log.info('stopped'); process.exit(0) }, (err) => { log.error({ err }, 'stop failed'); process.exit(1) })
  }
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = signal
    if (up.herald) stop(up.herald, signal)
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  up.herald = await startHerald({ config, log, dialects })
  if (stopping) stop(up.herald, stopping)
})

addSettingFlags(program.command('config').description('print the effective configuration (secrets masked)')).action((opts) => {
  console.log(JSON.stringify(describeConfig(configFrom(opts), settings), null, 2))
})

const user = program.command('user').description("manage Herald's own accounts (service and test accounts)")
addSettingFlags(user.command('add <username> <password>').option('--superuser', 'may publish and subscribe everywhere'))
  .description('add an account, or change its password').action(async (username: string, password: string, opts) => {
    await withUsers(opts, (u) => u.add(username, password, Boolean(opts.superuser)))
    console.log(`user ${username} saved${opts.superuser ? ' (superuser)' : ''}`)
  })
addSettingFlags(user.command('list')).description('list accounts').action(async (opts) => {
  const rows = await withUsers(opts, (u) => u.list())
  for (const r of rows) console.log(`${r.username}${r.superuser ? '\tsuperuser' : ''}\t${new Date(r.created_at).toISOString()}`)
})
addSettingFlags(user.command('remove <username>')).description('remove an account').action(async (username: string, opts) => {
  const removed = await withUsers(opts, (u) => u.remove(username))
  if (!removed) { console.error(`no user ${username}`); process.exitCode = 1 } else console.log(`user ${username} removed`)
})

const token = program.command('token').description('bearer tokens for the admin API (/api/v1/admin)')
addSettingFlags(token.command('create').option('--name <name>', 'a label for the token', 'admin'))
  .description('create an admin API token; it is printed once and only its hash is stored').action(async (opts) => {
    const cfg = configFrom(opts)
    const store = openStore({ databaseUrl: cfg.databaseUrl as string, dataDir: cfg.dataDir as string })
    try {
      await migrate(store.db, 'core', coreMigrations)
      console.log(await new AdminTokenStore(store.db).create(String(opts.name)))
    } finally {
      await store.close()
    }
  })

caCommands(program, addSettingFlags, configFrom)

program.parseAsync().catch((err: Error) => {
  console.error(`herald: ${err.message}`)
  process.exit(1)
})
