// bench:memory's probe: `node --expose-gc import-cost.mjs SPEC` imports SPEC (a package name or a file path) in this
// fresh process and prints {"rss":…,"heap":…}, the growth in MB of RSS and heapUsed across the import, after gc.
// x509 libraries need the Reflect polyfill their users import first; it is loaded before the baseline for all.
import 'reflect-metadata'

const measure = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage() }
const before = measure()
await import(process.argv[2])
const after = measure()
console.log(JSON.stringify({ rss: (after.rss - before.rss) / 1048576, heap: (after.heapUsed - before.heapUsed) / 1048576 }))
