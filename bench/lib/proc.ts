// Process helpers for benchmarks: broker children, free ports, and a process's own RSS and CPU from /proc.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import { cpus } from 'node:os'
import { createInterface } from 'node:readline'

/** A free TCP port on loopback (closed again before returning; the caller binds it right away). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })
}

export interface ProcStats {
  /** resident set size in bytes */
  rss: number
  /** user + system CPU time in milliseconds */
  cpuMs: number
}

const CLK_TCK = 100 // Linux USER_HZ; `getconf CLK_TCK`

/** RSS and CPU time of a process, read from /proc (Linux only); null when it is gone. */
export function procStats(pid: number): ProcStats | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0)
    return { rss: rssKb * 1024, cpuMs: cpuMs(pid) }
  } catch {
    return null
  }
}

/** User + system CPU time of a process in ms, from /proc (Linux only); NaN when it cannot be read. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name (which may contain spaces) start at field 3; utime and stime are 14 and 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK
  } catch {
    return NaN
  }
}

export interface Child {
  name: string
  pid: number
  proc: ChildProcess
  stop(): Promise<void>
}

const children = new Set<ChildProcess>()
// a benchmark that dies must not leave brokers behind
process.once('exit', () => { for (const c of children) c.kill('SIGKILL') })

function track(name: string, proc: ChildProcess): Child {
  children.add(proc)
  const exited = new Promise<void>((r) => proc.once('exit', () => { children.delete(proc); r() }))
  return {
    name,
    pid: proc.pid!,
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
    },
  }
}

/**
 * CPU pinning (`BENCH_PIN=0` turns it off): on a machine with two or more CPUs the load generator (this process)
 * runs on CPU 0 and every broker child on CPU 1, through taskset(1). Unpinned, the scheduler moves the broker and
 * the 100 load clients between the two cores of this machine, and one broker's rounds ranged 61k–118k
 * deliveries/s; pinned, 99k–110k in the same session.
 */
let pinned: boolean | undefined

/** Pin this process to CPU 0, once, when the first broker starts (importing this module pins nothing). */
function pinSelf(): boolean {
  if (pinned !== undefined) return pinned
  pinned = false
  if (process.env.BENCH_PIN === '0' || cpus().length < 2) return pinned
  try {
    execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })
    pinned = true
  } catch {
    // no taskset (util-linux): run unpinned
  }
  return pinned
}

/** The command line that starts `cmd` on the brokers' CPU (taskset execs it, so the pid is the broker's). */
function onBrokerCpu(cmd: string, args: string[]): [string, string[]] {
  return pinSelf() ? ['taskset', ['-c', '1', cmd, ...args]] : [cmd, args]
}

/**
 * The command line that runs `cmd` with its open-file limit raised to `nofile` (or to the hard limit when that is
 * lower and cannot be raised here): `sh -c 'ulimit -n …; exec "$0" "$@"'`, so the pid is still the command's.
 * openFileLimit() tells what the child got.
 */
export function withNofile(nofile: number | undefined, cmd: string, args: string[]): [string, string[]] {
  if (!nofile) return [cmd, args]
  const n = Math.floor(nofile)
  return ['sh', ['-c', `ulimit -n ${n} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`, cmd, ...args]]
}

/** Soft and hard open-file limits of a process (RLIMIT_NOFILE, from /proc/<pid>/limits); null when unreadable. */
export function openFileLimit(pid: number | 'self' = 'self'): { soft: number; hard: number } | null {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))
    if (!m) return null
    const v = (x: string) => (x === 'unlimited' ? Infinity : Number(x))
    return { soft: v(m[1]), hard: v(m[2]) }
  } catch {
    return null
  }
}

export interface SpawnOptions {
  /** raise the child's open-file limit (withNofile) */
  nofile?: number
}

export interface NodeChildOptions extends SpawnOptions {
  /** run the script through tsx (TypeScript); false runs it on plain node, as a user runs a JavaScript server */
  tsx?: boolean
}

/** `BENCH_CPU_PROF=<dir>`: Node.js broker children write a V8 CPU profile to `<dir>/<name>/` when they stop. */
function profileArgs(name: string): string[] {
  const dir = process.env.BENCH_CPU_PROF
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}/${name}`] : []
}

/**
 * Start a Node.js child (through tsx unless `opts.tsx` is false) that prints one JSON line `{"ready": …}` on stdout
 * when it listens; resolves with that object, or rejects on exit or after `timeoutMs`.
 */
export function spawnNodeChild<T>(
  name: string, script: string, env: NodeJS.ProcessEnv, timeoutMs = 30_000, opts: NodeChildOptions = {},
): Promise<{ child: Child; ready: T }> {
  const loader = opts.tsx === false ? [] : ['--import', 'tsx']
  const [cmd, args] = withNofile(opts.nofile, ...onBrokerCpu(process.execPath, [...profileArgs(name), ...loader, script]))
  const proc = spawn(cmd, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const child = track(name, proc)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { void child.stop(); reject(new Error(`${name} did not start within ${timeoutMs} ms`)) }, timeoutMs)
    proc.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`${name} exited before it was ready (${signal ?? code})`)) })
    const lines = createInterface({ input: proc.stdout! })
    lines.on('line', (line) => {
      let msg: { ready?: T } | undefined
      try { msg = JSON.parse(line) } catch { process.stderr.write(`[${name}] ${line}\n`); return }
      if (msg?.ready !== undefined) { clearTimeout(timer); resolve({ child, ready: msg.ready }) }
    })
  })
}

/** Start any executable and wait until `port` accepts TCP connections. */
export async function spawnListening(
  name: string, cmd: string, args: string[], port: number, timeoutMs = 10_000, opts: SpawnOptions = {},
): Promise<Child> {
  const proc = spawn(...withNofile(opts.nofile, ...onBrokerCpu(cmd, args)), { stdio: ['ignore', 'inherit', 'inherit'] })
  const child = track(name, proc)
  let failed: Error | undefined
  proc.once('error', (err) => { failed = err })
  proc.once('exit', (code, signal) => { failed ??= new Error(`${name} exited (${signal ?? code})`) })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (failed) throw failed
    if (await canConnect(port)) return child
    await new Promise((r) => setTimeout(r, 100))
  }
  await child.stop()
  throw new Error(`${name} did not listen on port ${port} within ${timeoutMs} ms`)
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}
