// Work for one key (a sender, a user) runs in arrival order; different keys run concurrently.
export class KeyedSerial {
  private tails = new Map<string, Promise<void>>()

  run(key: string, task: () => Promise<void>): Promise<void> {
    const prev = this.tails.get(key) ?? Promise.resolve()
    const next = prev.then(task, task)
    const tail = next.catch(() => {})
    this.tails.set(key, tail)
    tail.then(() => { if (this.tails.get(key) === tail) this.tails.delete(key) })
    return next
  }

  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()])
  }
}

/**
 * Places in line per key without waiting for each other's work: a holder may prepare concurrently, then awaits
 * `ready` (every earlier holder called `done()`) before the step that must keep arrival order.
 */
export class Turns {
  private tails = new Map<string, Promise<void>>()

  take(key: string): { ready: Promise<void>; done: () => void } {
    const ready = this.tails.get(key) ?? Promise.resolve()
    let done!: () => void
    const mine = new Promise<void>((resolve) => { done = resolve })
    this.tails.set(key, mine)
    void mine.then(() => { if (this.tails.get(key) === mine) this.tails.delete(key) })
    return { ready, done }
  }
}
