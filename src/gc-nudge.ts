import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Collect = (options: { type: "minor" }) => void;
let collect: Collect | undefined;

/**
 * Runs a young-generation collection (a scavenge, well under a millisecond with a small young
 * generation). For byte streams whose chunks die young: a push's socket chunks are freed only when
 * a collection runs, and V8 starts one for external memory only after ~64 MiB of it, so without a
 * nudge every upload holds tens of MiB of dead chunks, which malloc then keeps as resident memory.
 */
export function collectYoungGarbage(): void {
  if (!collect) {
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as Collect;
    setFlagsFromString("--no-expose-gc");
  }
  collect({ type: "minor" });
}

/**
 * A full collection (V8's `gc()` with no options: in Node 20 `{ type: "major" }` runs only a
 * scavenge), after which V8 hands emptied pages back to the system. Pauses the process for tens of
 * milliseconds with a large heap: only for when load has just fallen.
 */
export function collectAllGarbage(): void {
  collectYoungGarbage();
  (collect as unknown as () => void)();
}
