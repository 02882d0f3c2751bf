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
