// FILE (§6.12, n2o_ftp): `ftp` chunks answered with `ftpack`. `init` tells how much is stored already (resume) and
// the next block, `send` appends at the stored offset; the last chunk is answered {event,stop}. Files live under
// synrc.files.dir (default <dataDir>/synrc-files), named by a hash of (owner, id): a client-chosen id or filename
// never reaches a path, and another owner's same id is another file, so nobody appends to or reads someone's upload.
import { createHash } from 'node:crypto'
import { mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Handler, Request, Sender, Synrc } from '../context.ts'
import { atom, tuple } from '../etf/term.ts'
import { error, type Rec } from '../wire.ts'

/** §6.12: n2o's chunk size (256 KiB; chat's own client used 250 KiB, which also fits) */
export const CHUNK = 256 * 1024
const MAX_ID_BYTES = 256

/** what Herald keeps beside the bytes of one upload */
export interface UploadMeta { owner: string; id: string; filename: string; size: number; done: boolean }

export const filesDir = (s: Synrc): string => s.settings.files.dir || join(s.dataDir, 'synrc-files')

/** a device's uploads belong to its phone (its other devices may resume them); a sys_ client's to itself */
export const ownerOf = (from: Sender): string => (from.kind === 'device' ? `phone:${from.phone}` : `${from.kind}:${from.clientId}`)

const keyOf = (owner: string, id: Uint8Array): string =>
  createHash('sha256').update(owner).update('\u0000').update(id).digest('hex')

/** where an upload of `owner` with this id is stored, and its metadata (for messages referencing it by Desc) */
export async function storedUpload(s: Synrc, owner: string, id: Uint8Array): Promise<{ path: string; meta: UploadMeta } | undefined> {
  const base = join(filesDir(s), keyOf(owner, id))
  const meta = await readMeta(base)
  return meta && meta.owner === owner ? { path: base + '.bin', meta } : undefined
}

async function readMeta(base: string): Promise<UploadMeta | undefined> {
  try { return JSON.parse(await readFile(base + '.json', 'utf8')) as UploadMeta } catch { return undefined }
}

/** written whole and renamed: a crash leaves the old metadata or the new one */
async function writeMeta(base: string, m: UploadMeta): Promise<void> {
  await writeFile(base + '.json.tmp', JSON.stringify(m))
  await rename(base + '.json.tmp', base + '.json')
}

async function storedBytes(base: string): Promise<number> {
  try { return (await stat(base + '.bin')).size } catch { return 0 }
}

/** one upload's requests one after another, also from two devices of the same phone */
const locks = new Map<string, Promise<unknown>>()
function locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const run = (locks.get(key) ?? Promise.resolve()).then(fn, fn)
  const tail = run.catch(() => {})
  locks.set(key, tail)
  void tail.then(() => { if (locks.get(key) === tail) locks.delete(key) })
  return run
}

const nextBlock = (size: number, offset: number): number => Math.max(0, Math.min(CHUNK, size - offset))
const EMPTY = Buffer.alloc(0)
const STOP = tuple(atom('event'), atom('stop'))

/** §6.12: the same fields tagged ftpack, data <<>> */
const ack = (rec: Rec, offset: number, block: number, status: unknown = rec.status): Rec =>
  ({ ...rec, $: 'ftpack', offset, block, data: EMPTY, status })

const size = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined)

async function init(r: Request, s: Synrc, id: Uint8Array, base: string, owner: string): Promise<Rec> {
  const total = size(r.rec.size)
  // §6.12 "block = 0 to stop": a file without a size or over synrc.files.maxBytes is refused that way
  if (total === undefined || total > s.settings.files.maxBytes) return ack(r.rec, 0, 0)
  const meta = await readMeta(base)
  if (meta && meta.size === total) {
    const stored = meta.done ? total : await storedBytes(base)
    return ack(r.rec, stored, nextBlock(total, stored))
  }
  // a new upload, or the same id again with another size: it starts over
  const filename = r.rec.filename instanceof Uint8Array ? Buffer.from(r.rec.filename).toString('utf8').slice(0, 1024) : ''
  await writeFile(base + '.bin', EMPTY)
  await writeMeta(base, { owner, id: Buffer.from(id).toString('base64'), filename, size: total, done: total === 0 })
  return ack(r.rec, 0, nextBlock(total, 0))
}

async function send(r: Request, s: Synrc, base: string): Promise<Rec> {
  const meta = await readMeta(base)
  // a send without init (or for another owner's id, which hashes elsewhere): nothing to append to
  if (!meta) return ack(r.rec, 0, 0)
  const stored = meta.done ? meta.size : await storedBytes(base)
  if (stored >= meta.size) {
    // finished (also when a crash came between the last append and its metadata): nothing more to send
    if (!meta.done) await writeMeta(base, { ...meta, done: true })
    return ack(r.rec, stored, 0, STOP)
  }
  // a chunk for another offset is not appended: the ack names the offset to send from (resume after a lost ack)
  if (r.rec.offset !== stored) return ack(r.rec, stored, nextBlock(meta.size, stored))
  const data = r.rec.data instanceof Uint8Array ? r.rec.data : EMPTY
  // an empty chunk, one over the block size or past the declared size: refused with block 0 (stop)
  if (data.length === 0 || data.length > CHUNK || stored + data.length > meta.size) return ack(r.rec, stored, 0)
  const fh = await open(base + '.bin', 'a')
  try {
    await fh.write(data)
    // acknowledged only once on disk (ARCHITECTURE "what a client was told is stored, is stored")
    await fh.datasync()
  } finally {
    await fh.close()
  }
  const offset = stored + data.length
  if (offset < meta.size) return ack(r.rec, offset, nextBlock(meta.size, offset))
  await writeMeta(base, { ...meta, done: true })
  return ack(r.rec, offset, 0, STOP)
}

export const ftp: Handler = async (r, s) => {
  const id = r.rec.id
  const status = r.rec.status instanceof Uint8Array ? Buffer.from(r.rec.status).toString('utf8') : undefined
  if (!(id instanceof Uint8Array) || id.length === 0 || id.length > MAX_ID_BYTES || (status !== 'init' && status !== 'send')) {
    return s.reply(r.from.clientId, s.wire.io(error('invalid_data'), EMPTY))
  }
  const owner = ownerOf(r.from)
  const base = join(filesDir(s), keyOf(owner, id))
  const out = await locked(base, () => (status === 'init' ? init(r, s, id, base, owner) : send(r, s, base)))
  await s.reply(r.from.clientId, out)
}

/** the directory exists (and is writable) before the first request */
export async function ensureFilesDir(s: Synrc): Promise<void> {
  await mkdir(filesDir(s), { recursive: true })
}
