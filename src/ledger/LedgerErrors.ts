import { Schema } from "effect"

/** Other writers kept changing the same objects and the bounded re-plan budget ran out: nothing was written. */
export class LedgerContention extends Schema.TaggedError<LedgerContention>()("LedgerContention", {
  attempts: Schema.Number
}) {
  override get message() {
    return `gave up after ${this.attempts} version conflicts; nothing was written, retry is safe`
  }
}
