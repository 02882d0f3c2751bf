// The one error type of the ETF codec (synrc §2): decoding bad input never throws anything else.
export class EtfError extends Error {
  /** byte offset in the input (decode) or the output written so far (encode); -1 when not tied to one */
  readonly offset: number
  constructor(message: string, offset = -1) {
    super(offset >= 0 ? `ETF: ${message} at offset ${offset}` : `ETF: ${message}`)
    this.name = 'EtfError'
    this.offset = offset
  }
}
