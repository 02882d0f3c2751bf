// One full garbage collection once Herald has started (issue 11 item 7). Loading the modules and running the
// migrations grows V8's heap (the young generation to ~20 MB); an idle server allocates too little for V8 ever to run
// a full collection again, so it would hold that memory for as long as it stays idle. One full collection starts
// V8's memory reducer, whose next rounds (some seconds later) give it back: idle RSS of the broker alone ~107 MB
// before, ~85 MB after.
import v8 from 'node:v8'
import vm from 'node:vm'

let gc: (() => void) | undefined

export function collectGarbage(): void {
  if (!gc) {
    const exposed = (globalThis as { gc?: () => void }).gc
    if (exposed) gc = exposed
    else {
      // V8's gc() in a process started without --expose-gc: set the flag, then a fresh context has it
      v8.setFlagsFromString('--expose-gc')
      gc = vm.runInNewContext('gc') as () => void
    }
  }
  gc()
}
