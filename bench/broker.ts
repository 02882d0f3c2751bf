// Broker benchmark (issue 2, item 10): QoS 0/1 fan-out and pairs through Herald's embedded broker with access
// control on, stock Aedes and a throw-away Mosquitto, each in its own process; prints deliveries/s, latency, RSS
// and Herald's ratios. Exits non-zero only when it cannot run, never on a ratio.
// Usage: npm run bench:broker [-- --rounds 5 --scale 1 --brokers herald,aedes,mosquitto --only 'qos0 fan' --json out.json]
// (bench/README.md describes the workload and every figure)
import { writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import {
  mosquittoAvailable, startAedesBroker, startHeraldBroker, startMosquittoBroker, type BrokerUnderTest,
} from './lib/brokers.ts'
import { runScenario, type RunResult, type Scenario } from './lib/load.ts'
import { procStats } from './lib/proc.ts'
import { fmt, mb, median, table } from './lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: process.env.BENCH_ROUNDS ?? '5' },
    scale: { type: 'string', default: process.env.BENCH_SCALE ?? '1' },
    brokers: { type: 'string', default: process.env.BENCH_BROKERS ?? 'herald,aedes,mosquitto' },
    json: { type: 'string' },
    only: { type: 'string', default: process.env.BENCH_ONLY ?? '' },
  },
})
const rounds = Math.max(1, Number(args.rounds) || 1)
const scale = Math.max(0.01, Number(args.scale) || 1)
const n = (x: number) => Math.max(1, Math.round(x * scale))

const common = { payloadBytes: 64, timeLimitMs: 60_000 }
const scenarios: Scenario[] = [
  { name: 'qos0 fan-out 1->100', qos: 0, pattern: 'fanout', clients: 100, messages: n(1000), warmup: n(200), window: 20, ...common },
  { name: 'qos1 fan-out 1->100', qos: 1, pattern: 'fanout', clients: 100, messages: n(500), warmup: n(100), window: 20, ...common },
  { name: 'qos0 100 pairs', qos: 0, pattern: 'pairs', clients: 100, messages: n(500), warmup: n(100), window: 10, ...common },
  { name: 'qos1 100 pairs', qos: 1, pattern: 'pairs', clients: 100, messages: n(250), warmup: n(50), window: 10, ...common },
]
const selected = scenarios.filter((s) => !args.only || args.only.split(',').some((o) => s.name.includes(o)))
const starters: Record<string, () => Promise<BrokerUnderTest>> = {
  herald: startHeraldBroker, aedes: startAedesBroker, mosquitto: startMosquittoBroker,
}

interface Row { scenario: string; broker: string; runs: RunResult[] }

function summarize(r: Row) {
  const delivered = r.runs.reduce((a, x) => a + x.delivered, 0)
  return {
    scenario: r.scenario, broker: r.broker,
    rate: median(r.runs.map((x) => x.rate)),
    p50: median(r.runs.map((x) => x.p50)),
    p99: median(r.runs.map((x) => x.p99)),
    lost: r.runs.reduce((a, x) => a + x.lost, 0),
    timedOut: r.runs.some((x) => x.timedOut),
    peakRss: Math.max(...r.runs.map((x) => x.peakRss)),
    cpuUsPerDelivery: (r.runs.reduce((a, x) => a + x.brokerCpuMs, 0) * 1000) / Math.max(1, delivered),
    loadCpu: median(r.runs.map((x) => (x.seconds > 0 ? x.loadCpuMs / (x.seconds * 1000) : NaN))),
    rates: r.runs.map((x) => Math.round(x.rate)),
  }
}

async function main(): Promise<void> {
  const wanted = args.brokers.split(',').map((x) => x.trim()).filter(Boolean)
  for (const w of wanted) if (!starters[w]) throw new Error(`unknown broker ${w} (herald, aedes, mosquitto)`)
  if (selected.length === 0) throw new Error(`no scenario matches --only ${args.only}: ${scenarios.map((s) => s.name).join(', ')}`)
  const brokers: BrokerUnderTest[] = []
  const idleRss: Record<string, number> = {}
  try {
    for (const name of wanted) {
      if (name === 'mosquitto' && !mosquittoAvailable()) { console.error('mosquitto: not installed, skipped'); continue }
      const b = await starters[name]()
      brokers.push(b)
      idleRss[name] = procStats(b.pid)?.rss ?? NaN
    }
    console.log(`broker benchmark: ${rounds} round(s), scale ${scale}, brokers ${brokers.map((b) => b.name).join(', ')}; ` +
      `node ${process.version}; ${cpus().length} CPUs; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ` +
      `payload ${common.payloadBytes} B; median of rounds\n`)
    const rows = new Map<string, Row>()
    for (let round = 0; round < rounds; round++) {
      for (const s of selected) {
        // rotate the order each round so no broker always runs first (or last) on a warm machine
        const order = brokers.map((_, i) => brokers[(i + round) % brokers.length])
        for (const b of order) {
          const r = await runScenario(b, s)
          const key = `${s.name}\u0000${b.name}`
          if (!rows.has(key)) rows.set(key, { scenario: s.name, broker: b.name, runs: [] })
          rows.get(key)!.runs.push(r)
          console.error(`round ${round + 1}/${rounds}  ${s.name.padEnd(20)} ${b.name.padEnd(9)} ${fmt(r.rate).padStart(9)}/s  ` +
            `p50 ${fmt(r.p50, 2)} ms  p99 ${fmt(r.p99, 2)} ms  lost ${r.lost}${r.timedOut ? '  TIME LIMIT' : ''}`)
        }
      }
    }
    report([...rows.values()].map(summarize), idleRss, brokers.map((b) => b.name))
  } finally {
    await Promise.all(brokers.map((b) => b.stop()))
  }
}

type Summary = ReturnType<typeof summarize>

function report(sums: Summary[], idleRss: Record<string, number>, names: string[]): void {
  console.log(table(
    ['scenario', 'broker', 'deliveries/s', 'p50 ms', 'p99 ms', 'lost', 'peak RSS MB', 'broker CPU us/delivery', 'load-gen CPU', 'rounds (deliveries/s)'],
    sums.map((x) => [
      x.scenario, x.broker, fmt(x.rate), fmt(x.p50, 2), fmt(x.p99, 2), String(x.lost) + (x.timedOut ? '!' : ''),
      mb(x.peakRss), fmt(x.cpuUsPerDelivery, 2), `${fmt(x.loadCpu * 100)}%`, x.rates.join(' '),
    ]),
    2,
  ))
  console.log(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on this machine skews every figure)`)
  console.log(`idle RSS MB after start: ${names.map((b) => `${b} ${mb(idleRss[b])}`).join(', ')}`)
  const find = (scenario: string, broker: string) => sums.find((x) => x.scenario === scenario && x.broker === broker)
  // the runs of one round are minutes apart at most: their ratio cancels most of the machine's drift
  const paired = (h: Summary, o: Summary) => median(h.rates.map((r, i) => r / o.rates[i]).filter(Number.isFinite))
  const others = names.filter((b) => b !== 'herald')
  const ratioRows: string[][] = []
  for (const s of scenarios) {
    const h = find(s.name, 'herald')
    if (!h) continue
    ratioRows.push([s.name, ...others.flatMap((b) => {
      const o = find(s.name, b)
      if (!o) return ['-', '-', '-']
      return [`${fmt(h.rate / o.rate, 2)}x`, `${fmt(paired(h, o), 2)}x`, `${fmt(h.cpuUsPerDelivery / o.cpuUsPerDelivery, 2)}x`]
    })])
  }
  if (ratioRows.length && others.length) {
    console.log('\nHerald ratios: deliveries/s (median of rounds; median of same-round ratios), broker CPU per delivery (lower is better)')
    console.log(table(['scenario', ...others.flatMap((b) => [`herald/${b} rate`, 'same-round', 'CPU'])], ratioRows))
  }
  const h0 = find(scenarios[0].name, 'herald')
  const a0 = find(scenarios[0].name, 'aedes')
  if (h0 && a0) {
    const ratio = h0.rate / a0.rate, same = paired(h0, a0)
    // the verdict reads the same-round ratio: this machine's speed drifts for minutes at a time (every broker's
    // rounds move together, e.g. QoS 1 fan-out at 70k, 45k, 44k, 44k, 70k deliveries/s for all three), and a
    // broker whose good rounds are fewer loses the median of rounds without being slower
    console.log(`\nbar: Herald QoS 0 fan-out >= 0.9x stock Aedes (same-round ratio): ${fmt(same, 3)}x -> ${same >= 0.9 ? 'met' : 'NOT met'}` +
      ` (median of rounds ${fmt(ratio, 3)}x)`)
  }
  if (args.json) writeFileSync(args.json, JSON.stringify({ at: new Date().toISOString(), rounds, scale, scenarios, idleRss, results: sums }, null, 2))
}

main().then(() => process.exit(0), (err) => {
  console.error(`broker benchmark failed: ${(err as Error).stack ?? err}`)
  process.exit(1)
})
