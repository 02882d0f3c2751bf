// The SYNRC dialect's Erlang External Term Format codec (synrc §2; issue 12 §1): pure functions over bytes.
//   encode(term, { atoms?: 'latin1' | 'utf8' }) -> Buffer, byte-identical to OTP 25 term_to_binary
//   decode(bytes, { atom, maxDepth?, maxLength?, maxSize?, maxInflated?, copyBinaries? }) -> Term, throws EtfError
// Known gap: a map of more than 32 keys is a hashmap in the VM, written in the order of its internal hash; the
// encoder writes such a map in the order given (a decoded one keeps the order read, so it re-encodes to the same
// bytes), which binary_to_term accepts but which is not byte-identical for maps built in JS.
export { encode, type EncodeOptions } from './encode.ts'
export { decode, MAX_DEPTH, MAX_BIG_BYTES, type DecodeOptions } from './decode.ts'
export { EtfError } from './error.ts'
export { compareTerms } from './order.ts'
