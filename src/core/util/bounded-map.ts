// A Map with a ceiling: caches and per-key state keyed by client input must not grow without bound.

/** Past `max` entries the oldest one (insertion order; `set` of an existing key refreshes it) is dropped. */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly max: number) {
    super()
    if (!(max >= 1)) throw new RangeError(`BoundedMap needs a ceiling of at least 1, got ${max}`)
  }

  override set(key: K, value: V): this {
    if (this.has(key)) this.delete(key)
    else if (this.size >= this.max) this.delete(this.keys().next().value as K)
    return super.set(key, value)
  }
}
