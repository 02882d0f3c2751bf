// ETF tag bytes (synrc §2.3; erts external term format).
export const VERSION = 131
export const COMPRESSED = 80
export const NEW_FLOAT_EXT = 70
export const BIT_BINARY_EXT = 77
export const SMALL_INTEGER_EXT = 97
export const INTEGER_EXT = 98
export const FLOAT_EXT = 99
export const ATOM_EXT = 100
export const SMALL_TUPLE_EXT = 104
export const LARGE_TUPLE_EXT = 105
export const NIL_EXT = 106
export const STRING_EXT = 107
export const LIST_EXT = 108
export const BINARY_EXT = 109
export const SMALL_BIG_EXT = 110
export const LARGE_BIG_EXT = 111
export const SMALL_ATOM_EXT = 115
export const MAP_EXT = 116
export const ATOM_UTF8_EXT = 118
export const SMALL_ATOM_UTF8_EXT = 119

/** Erlang's atom limit: 255 characters (binary_to_term rejects longer ones). */
export const MAX_ATOM_CHARS = 255
/** Maps up to this size are "flatmaps" in the VM: term_to_binary writes their keys in map-key order. */
export const FLATMAP_LIMIT = 32
