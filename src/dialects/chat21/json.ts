// Bounded JSON for what chat21 clients send (§4.1 payloads over MQTT, §12.2 REST bodies): size and nesting are
// checked on the text before JSON.parse builds anything. A document nested tens of thousands of levels deep parses,
// but every recursive step after it (JSON.stringify into the store, copies) throws, and fails a whole group commit.

/** Default deepest nesting of objects and arrays; the message object itself is level 1. */
export const MAX_JSON_DEPTH = 64
/** Default largest payload in bytes (the embedded broker's packet limit; an external broker may allow more). */
export const MAX_JSON_BYTES = 1024 * 1024

export interface JsonLimits { maxDepth: number; maxBytes: number }

export const DEFAULT_JSON_LIMITS: JsonLimits = { maxDepth: MAX_JSON_DEPTH, maxBytes: MAX_JSON_BYTES }

/** Why a payload was refused; the `reason` label of `chat21_messages_dropped_total`. */
export type JsonRefusal = 'too_large' | 'too_deep' | 'invalid_json' | 'not_an_object'
export const JSON_REFUSALS: JsonRefusal[] = ['too_large', 'too_deep', 'invalid_json', 'not_an_object']

export type JsonResult = { ok: true; value: unknown } | { ok: false; reason: JsonRefusal }

const QUOTE = 0x22, BACKSLASH = 0x5c, OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d, OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d

/** True when the objects and arrays of `text` (strings skipped) nest deeper than `max`; one pass, no recursion. */
export function nestedDeeper(text: string, max: number): boolean {
  if (text.length <= max) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) inString = true
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > max) return true
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--
  }
  return false
}

/** Parse a client's JSON within `limits`; any JSON value. */
export function parseBounded(input: string | Buffer, limits: JsonLimits = DEFAULT_JSON_LIMITS): JsonResult {
  const bytes = typeof input === 'string' ? Buffer.byteLength(input) : input.length
  if (bytes > limits.maxBytes) return { ok: false, reason: 'too_large' }
  const text = typeof input === 'string' ? input : input.toString('utf8')
  if (nestedDeeper(text, limits.maxDepth)) return { ok: false, reason: 'too_deep' }
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false, reason: 'invalid_json' }
  }
}

/** Parse a client's JSON object (what every chat21 MQTT command carries) within `limits`. */
export function parseObject(input: string | Buffer, limits: JsonLimits = DEFAULT_JSON_LIMITS): JsonResult {
  const r = parseBounded(input, limits)
  if (r.ok && (r.value === null || typeof r.value !== 'object' || Array.isArray(r.value))) return { ok: false, reason: 'not_an_object' }
  return r
}
