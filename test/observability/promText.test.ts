import { assert, describe, it } from "@effect/vitest"
import { parsePrometheusText, valueOf } from "./support/promText.ts"

const good = `# HELP x_seconds Latency
# TYPE x_seconds histogram
x_seconds_bucket{le="0.1",method="A"} 1
x_seconds_bucket{le="+Inf",method="A"} 2
x_seconds_sum{method="A"} 0.3
x_seconds_count{method="A"} 2
# HELP y_total Things, with "quotes"
# TYPE y_total counter
y_total{label="a \\"b\\" \\\\ c\\nd"} 3
# TYPE z gauge
z 1.5e3
# TYPE n gauge
n Nan
`

describe("the strict Prometheus text parser used by the metrics tests", () => {
  it("parses families, types, escaped label values and values", () => {
    const families = parsePrometheusText(good)
    assert.strictEqual(families.get("x_seconds")?.type, "histogram")
    assert.strictEqual(valueOf(families, "x_seconds_count", { method: "A" }), 2)
    assert.strictEqual(valueOf(families, "y_total", { label: 'a "b" \\ c\nd' }), 3)
    assert.strictEqual(valueOf(families, "z"), 1500)
    assert.isNaN(valueOf(families, "n"))
    assert.throws(() => valueOf(families, "y_total"), /no series/)
  })

  it.each([
    ["a duplicate series", "# TYPE a gauge\na 1\na 2\n", /duplicate series/],
    ["samples of one family split by another", "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n", /not contiguous/],
    ["a sample without TYPE", "a 1\n", /without a TYPE/],
    ["HELP after samples", "# TYPE a gauge\na 1\n# HELP a late\n", /after its samples/],
    ["a second TYPE", "# TYPE a gauge\n# TYPE a counter\n", /second TYPE/],
    ["an unknown type", "# TYPE a meter\n", /TYPE/],
    ["a bad metric name", "1a 1\n", /bad metric name|not a sample/],
    ["an unquoted label value", "a{x=1} 1\n", /not quoted/],
    ["a bad escape", 'a{x="\\t"} 1\n', /bad escape/],
    ["a reserved label name", 'a{__x="1"} 1\n', /bad label name/],
    ["a bad value", "a one\n", /bad value/],
    ["a stray sample in a counter family", "# TYPE a_total counter\na_total_sum 1\n", /without a TYPE/],
    [
      "non-cumulative buckets",
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      /not cumulative/
    ],
    ["a histogram without +Inf", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
    ["+Inf bucket != count", '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n', /!= _count/],
    ["a histogram without _sum", '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n', /_sum/]
  ])("rejects %s", (_what, text, error) => {
    assert.throws(() => parsePrometheusText(text), error)
  })
})
