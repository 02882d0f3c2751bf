// Certificate serial numbers, without the x509 library: the TLS gate and the CA stores compare them on every login.

/** Serial numbers as Node's TLS layer and `openssl x509 -serial` print them: upper-case hex, no leading zeros. */
export function normalSerial(hex: string): string {
  return hex.replace(/[^0-9a-f]/gi, '').replace(/^0+(?=.)/, '').toUpperCase()
}
