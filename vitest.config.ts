import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "tools/test/**/*.test.ts"],
    globalSetup: ["./test-support/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000
  }
})
