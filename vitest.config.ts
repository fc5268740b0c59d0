import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration files each start their own redis-server; two cores, so two at a time.
    maxWorkers: 2,
    fileParallelism: true
  }
})
