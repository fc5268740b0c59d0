/** The chaos tests' Redis is the shared test redis-server (kill -9, restart, freeze/thaw). */
export { startTestRedisServer as startChaosRedis, type TestRedisServer as ChaosRedis } from "../../support/redisServer.ts"
