// UWPX §2, §12.1 item 5: node and secret are 15 characters of [0-9A-Za-z], here both from the CSPRNG and uniform
// over all 62 (the original drew nodes from mt19937 and never drew a `Z` in secrets).
import { randomInt } from 'node:crypto'

export const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
export const TOKEN_LENGTH = 15

export function randomToken(length = TOKEN_LENGTH): string {
  let s = ''
  for (let i = 0; i < length; i++) s += ALPHABET[randomInt(ALPHABET.length)]
  return s
}
