import { Effect } from "effect"
import type { RedisKeys } from "./redisKeys.ts"
import type { RedisSession } from "./redisSession.ts"

/**
 * Which archive this Redis' history belongs to (`P archive:id`): the first instance with the
 * archive on claims it for its history store, every later one reads the claim
 * (src/history/archiveIdentity.ts decides what a different id means).
 */
export const makeRedisArchiveIdentity = ({ call, redis, retrying }: RedisSession, keys: RedisKeys) => {
  const claimArchiveId = Effect.fn("RedisStore.claimArchiveId")(function*(archiveId: string) {
    // SET NX and GET in one MULTI: a retry after a lost reply sets nothing and reads the claim it made.
    const held = yield* call("claimArchiveId", async () => {
      const replies = await redis.multi().set(keys.archiveId, archiveId, "NX").get(keys.archiveId).exec()
      const [error, value] = replies?.[1] ?? [new Error("empty MULTI reply")]
      if (error) throw error
      return value as string | null
    })
    // Nothing there after SET NX is impossible unless someone deleted it in between: claim again.
    return held ?? archiveId
  }, retrying)

  const archiveIdOfRedis = Effect.fn("RedisStore.archiveIdOfRedis")(function*() {
    return yield* call("archiveIdOfRedis", () => redis.get(keys.archiveId))
  }, retrying)

  return { claimArchiveId, archiveIdOfRedis }
}
