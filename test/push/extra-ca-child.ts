// Child of extra-ca.test.ts: sends one Web Push with no extra CA and one with an unrelated extra CA (the
// HERALD_PUSH_CA_FILE path), both trusting the fake's certificate only through NODE_EXTRA_CA_CERTS; prints outcomes.
import { readFileSync } from 'node:fs'
import { generateVapidKeys, WebPushProvider } from '../../src/core/push/webpush.ts'

const [connectTo, endpoint, p256dh, auth, otherCaFile] = process.argv.slice(2) as [string, string, string, string, string]
const out: string[] = []
for (const ca of [undefined, readFileSync(otherCaFile, 'utf8')]) {
  const p = new WebPushProvider({ name: 'webpush', vapid: generateVapidKeys(), subject: 'mailto:t@example.org', connectTo, ca, timeoutMs: 5000 })
  const r = await p.send({ endpoint, p256dh, auth }, { payload: 'via NODE_EXTRA_CA_CERTS' })
  out.push(r.kind === 'delivered' ? 'delivered' : `${r.kind}: ${'reason' in r ? r.reason : ''}`)
  await p.close()
}
console.log(JSON.stringify(out))
