// core/util/heap.ts: the full collection Herald runs once after start-up (idle memory) really collects.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { collectGarbage } from '../../src/core/util/heap.ts'

test('collectGarbage runs a full collection in a process started without --expose-gc: an unreachable object is gone', async () => {
  assert.equal(process.execArgv.includes('--expose-gc'), false)
  const ref = ((): WeakRef<object> => new WeakRef({ big: new Array(100_000).fill(1) }))()
  // a WeakRef's target lives until the end of the job that made it
  await new Promise((r) => setImmediate(r))
  collectGarbage()
  assert.equal(ref.deref(), undefined)
  // a second call works on the gc it found the first time
  collectGarbage()
})
