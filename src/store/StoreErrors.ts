import { Schema } from "effect"

/** The store did not answer (connection down, timeout, script error): retryable, never a domain answer. */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `store unavailable during ${this.operation}: ${this.reason}`
  }
}
