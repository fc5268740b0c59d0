import { Effect } from "effect"
import { BadRequest } from "./ApiErrors.ts"

/**
 * Opaque page cursors: the store's own cursor, wrapped with the listing it
 * belongs to, so a cursor from one account's history is refused on another's
 * instead of silently paging through the wrong list.
 */
export const encodeCursor = (scope: string, position: string): string =>
  Buffer.from(JSON.stringify([scope, position]), "utf8").toString("base64url")

export const decodeCursor = (scope: string, cursor: string | undefined): Effect.Effect<string | null, BadRequest> => {
  if (cursor === undefined) return Effect.succeed(null)
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"))
    if (Array.isArray(decoded) && decoded[0] === scope && typeof decoded[1] === "string") return Effect.succeed(decoded[1])
  } catch {
    // fall through: not one of ours
  }
  return Effect.fail(new BadRequest({
    error: "INVALID_CURSOR",
    message: "cursor: not a nextCursor of this listing",
    details: { issues: [{ in: "query", path: "cursor", message: "not a nextCursor of this listing" }] }
  }))
}

export const nextCursorOf = (scope: string, position: string | null): string | null =>
  position === null ? null : encodeCursor(scope, position)
