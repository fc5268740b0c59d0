import { assert, describe, it } from "@effect/vitest"
import * as Prom from "prom-client"
import { tallyingCounter, tallyOf } from "../../src/observability/Metrics.ts"
import { parsePrometheusText, valueOf } from "./support/promText.ts"

const scrape = async (registry: Prom.Registry) => parsePrometheusText(await registry.metrics())

describe("request-path counters (tallyingCounter, tallyOf)", () => {
  it("a scrape shows every tallied increment once, with the counter's own increments and per label set", async () => {
    const registry = new Prom.Registry()
    const counter = tallyingCounter({ name: "t_calls_total", help: "calls", labelNames: ["method", "code"], registers: [registry] })
    const ok = tallyOf(counter, { method: "GetBalance", code: "OK" })
    const refused = tallyOf(counter, { method: "GetBalance", code: "INVALID_ARGUMENT" })
    counter.inc({ method: "GetBalance", code: "OK" }, 10)
    ok()
    ok()
    refused()

    const first = await scrape(registry)
    assert.strictEqual(valueOf(first, "t_calls_total", { method: "GetBalance", code: "OK" }), 12)
    assert.strictEqual(valueOf(first, "t_calls_total", { method: "GetBalance", code: "INVALID_ARGUMENT" }), 1)

    // Nothing tallied since: the same values, not the increments counted again.
    const second = await scrape(registry)
    assert.strictEqual(valueOf(second, "t_calls_total", { method: "GetBalance", code: "OK" }), 12)

    ok()
    const third = await scrape(registry)
    assert.strictEqual(valueOf(third, "t_calls_total", { method: "GetBalance", code: "OK" }), 13)
    assert.strictEqual(valueOf(third, "t_calls_total", { method: "GetBalance", code: "INVALID_ARGUMENT" }), 1)
  })

  it("counter.get() includes what was tallied (as tests and exporters read it)", async () => {
    const counter = tallyingCounter({ name: "t_reads_total", help: "reads", labelNames: ["result"], registers: [] })
    const hit = tallyOf(counter, { result: "hit" })
    hit()
    hit()
    hit()
    const values = (await counter.get()).values
    assert.deepStrictEqual(values.map((v) => [v.labels["result"], v.value]), [["hit", 3]])
  })

  it("a counter made without tallyingCounter refuses tallies (they would never be added)", () => {
    const plain = new Prom.Counter({ name: "t_plain_total", help: "plain", labelNames: ["x"], registers: [] })
    assert.throws(() => tallyOf(plain, { x: "y" }), /not made by tallyingCounter/)
  })
})
