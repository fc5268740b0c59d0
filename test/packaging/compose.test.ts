/**
 * docker-compose.yml and the deploy/ files it mounts, read as data: Redis
 * persistence settings, the service's wiring, the observability profile, and
 * that every mounted file exists and points where the others expect.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { parse } from "yaml"

const root = join(import.meta.dirname, "..", "..")
const read = (path: string) => readFileSync(join(root, path), "utf8")
const yaml = <T>(path: string) => parse(read(path)) as T

interface Service {
  image?: string
  build?: string | { context: string }
  command?: string | Array<string>
  environment?: Record<string, string | number | boolean | null> | Array<string>
  ports?: Array<string | { target: number; published?: number | string }>
  volumes?: Array<string>
  profiles?: Array<string>
  depends_on?: Array<string> | Record<string, unknown>
  healthcheck?: { test: Array<string> | string }
}
const compose = yaml<{ services: Record<string, Service>; volumes?: Record<string, unknown> }>("docker-compose.yml")
const services = compose.services

const env = (s: Service): Record<string, string> => {
  if (Array.isArray(s.environment)) {
    return Object.fromEntries(s.environment.map((e) => [e.split("=")[0]!, e.split("=").slice(1).join("=")]))
  }
  return Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v === null ? "" : String(v)]))
}
const commandLine = (s: Service) => (Array.isArray(s.command) ? s.command.join(" ") : s.command ?? "")
/** "${BIND:-127.0.0.1}:3002:3002" -> container port 3002. */
const containerPorts = (s: Service) =>
  (s.ports ?? []).map((p) => (typeof p === "string" ? Number(p.replace(/\$\{[^}]*\}/g, "x").split(":").at(-1)!.split("/")[0]) : p.target))
/** Bind mounts of files from the repository: [source relative to the repo, target]. */
const bindMounts = (s: Service) =>
  (s.volumes ?? [])
    .filter((v) => v.startsWith("./"))
    .map((v) => {
      const [source, target] = v.split(":")
      return [source!.slice(2), target!] as const
    })

const OBSERVABILITY = ["prometheus", "alertmanager", "grafana", "otel-collector", "jaeger", "loki", "promtail"]
const SECRET_NAME = /pass(word)?|secret|token|api_?key|private|credential|(^|_)key$|hmac/i

describe("docker-compose.yml: Redis", () => {
  const redis = services["redis"]!

  it("is Redis 7 with a pinned tag", () => {
    assert.match(redis.image ?? "", /^redis:7\.\d+\.\d+(-[a-z0-9.-]+)?$/)
  })

  it("runs AOF with appendfsync always and maxmemory-policy noeviction", () => {
    const cmd = commandLine(redis)
    assert.match(cmd, /--appendonly yes\b/)
    assert.match(cmd, /--appendfsync always\b/)
    assert.match(cmd, /--maxmemory-policy noeviction\b/)
  })

  it("keeps its data on a named volume and has a health check", () => {
    const data = (redis.volumes ?? []).find((v) => v.endsWith(":/data"))
    assert.isDefined(data)
    assert.include(Object.keys(compose.volumes ?? {}), data!.split(":")[0])
    assert.match(JSON.stringify(redis.healthcheck?.test), /redis-cli.*ping/)
  })

  it("is not published on the host (never the machine's 6379)", () => {
    assert.deepStrictEqual(redis.ports ?? [], [])
  })
})

describe("docker-compose.yml: balance-service", () => {
  const service = services["balance-service"]!
  const vars = env(service)

  it("is built from this repository's Dockerfile", () => {
    const context = typeof service.build === "string" ? service.build : service.build?.context
    assert.strictEqual(context, ".")
  })

  it("uses the compose Redis and waits for it to be healthy", () => {
    assert.strictEqual(vars["REDIS_URL"], "redis://redis:6379")
    assert.containSubset(service.depends_on, { redis: { condition: "service_healthy" } })
  })

  it("publishes HTTP, gRPC and metrics ports", () => {
    assert.includeMembers(containerPorts(service), [3002, 50051, 9102])
  })

  it("exports traces by env var and keeps DATA_DIR on a volume", () => {
    assert.include(Object.keys(vars), "OTEL_EXPORTER_OTLP_ENDPOINT")
    const dataDir = vars["DATA_DIR"]!
    assert.strictEqual((service.volumes ?? []).some((v) => v.endsWith(`:${dataDir}`)), true)
  })

  it("serves gRPC to the compose network, so the game's credential (GRPC_AUTH_TOKEN) is passed through", () => {
    assert.strictEqual(vars["GRPC_HOST"], "0.0.0.0")
    assert.strictEqual(vars["GRPC_AUTH_TOKEN"], "${GRPC_AUTH_TOKEN:-}")
  })

  it("carries no secret value: secret-looking variables only pass the caller's environment through", () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [k, v] of Object.entries(env(s))) {
        if (SECRET_NAME.test(k)) assert.match(v, /^(\$\{[A-Z0-9_]+(:?-)?\}|)$/, `${name}: ${k}`)
      }
    }
  })
})

describe("docker-compose.yml: history profile", () => {
  const postgres = services["postgres"]!
  const vars = env(services["balance-service"]!)
  it("is a pinned PostgreSQL in the `history` profile, on a named volume, with a health check, not published", () => {
    assert.match(postgres.image ?? "", /^postgres:\d+\.\d+/)
    assert.deepStrictEqual(postgres.profiles, ["history"])
    assert.strictEqual((postgres.volumes ?? []).some((v) => String(v).endsWith(":/var/lib/postgresql/data")), true)
    assert.isDefined(postgres.healthcheck)
    assert.isUndefined(postgres.ports)
  })

  it("the service reaches it with HISTORY_ARCHIVE passed through and the password from the caller's environment", () => {
    assert.strictEqual(vars["HISTORY_ARCHIVE"], "${HISTORY_ARCHIVE:-off}")
    assert.match(vars["DATABASE_URL"] ?? "", /@postgres:5432\//)
    assert.notMatch(vars["DATABASE_URL"], /:[^/@]*@/)
    assert.strictEqual(vars["DATABASE_PASSWORD"], "${POSTGRES_PASSWORD:-}")
  })
})

describe("docker-compose.yml: observability profile", () => {
  it("has Prometheus, Grafana, an OTLP trace backend and a log collector, only in that profile", () => {
    for (const name of OBSERVABILITY) assert.deepStrictEqual(services[name]?.profiles, ["observability"], name)
    assert.isUndefined(services["redis"]!.profiles)
    assert.isUndefined(services["balance-service"]!.profiles)
  })

  it("pins every image tag", () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.image === undefined) continue
      if (name === "balance-service") continue // built here
      assert.match(s.image, /:[\w.-]+$/, name)
      assert.notMatch(s.image, /:latest$/, name)
      assert.match(s.image, /\d/, name)
    }
  })

  it("mounts files that exist", () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [source] of bindMounts(s)) assert.strictEqual(existsSync(join(root, source)), true, `${name}: ${source}`)
    }
  })

  it("Prometheus loads the alert rules and scrapes the service's METRICS_PORT", () => {
    const prometheus = services["prometheus"]!
    const mounts = new Map(bindMounts(prometheus))
    const config = yaml<{
      rule_files: Array<string>
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: Array<string> }> }>
    }>(mounts.has("deploy/prometheus.yml") ? "deploy/prometheus.yml" : "missing")
    assert.include(commandLine(prometheus), `--config.file=${mounts.get("deploy/prometheus.yml")}`)
    assert.include(config.rule_files, mounts.get("deploy/alerts.yml"))
    const job = config.scrape_configs.find((j) => j.job_name === "balance-service")!
    const metricsPort = env(services["balance-service"]!)["METRICS_PORT"]
    assert.include(job.static_configs.flatMap((c) => c.targets), `balance-service:${metricsPort}`)
  })

  it("Prometheus sends its alerts to the compose Alertmanager, which routes them to a receiver it defines", () => {
    const prometheus = yaml<{ alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: Array<string> }> }> } }>(
      "deploy/prometheus.yml"
    )
    const targets = prometheus.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((c) => c.targets))
    assert.deepStrictEqual(targets, ["alertmanager:9093"])
    const alertmanager = services["alertmanager"]!
    assert.match(alertmanager.image ?? "", /^prom\/alertmanager:v\d+\.\d+\.\d+$/)
    const mounts = new Map(bindMounts(alertmanager))
    assert.include(commandLine(alertmanager), `--config.file=${mounts.get("deploy/alertmanager.yml")}`)
    const config = yaml<{
      route: { receiver: string; routes?: Array<{ receiver: string }> }
      receivers: Array<{ name: string }>
    }>("deploy/alertmanager.yml")
    const receivers = config.receivers.map((r) => r.name)
    for (const r of [config.route.receiver, ...(config.route.routes ?? []).map((x) => x.receiver)]) assert.include(receivers, r)
  })

  it("runbook links: Prometheus gets RUNBOOK_BASE_URL into its external label runbook_base_url", () => {
    const prometheus = services["prometheus"]!
    assert.include(commandLine(prometheus), "--enable-feature=expand-external-labels")
    assert.match(env(prometheus)["RUNBOOK_BASE_URL"] ?? "", /^\$\{RUNBOOK_BASE_URL:-https:\/\/[^}]+\}$/)
    const config = yaml<{ global: { external_labels: Record<string, string> } }>("deploy/prometheus.yml")
    assert.strictEqual(config.global.external_labels["runbook_base_url"], "${RUNBOOK_BASE_URL}")
  })

  it("Grafana ships no password and no anonymous access: it refuses to start without a strong GRAFANA_ADMIN_PASSWORD", () => {
    const grafana = services["grafana"]!
    const vars = env(grafana)
    assert.strictEqual(vars["GF_AUTH_ANONYMOUS_ENABLED"], "false")
    assert.strictEqual(vars["GF_SECURITY_ADMIN_PASSWORD"], "${GRAFANA_ADMIN_PASSWORD:-}")
    assert.notMatch(read("docker-compose.yml"), /admin\/admin/)
    // Run the entrypoint's check as the container would (compose turns $$ into $).
    const entrypoint = (grafana as Service & { entrypoint: Array<string> }).entrypoint
    assert.deepStrictEqual(entrypoint.slice(0, 2), ["/bin/sh", "-c"])
    const script = entrypoint[2]!.replaceAll("$$", "$")
    const start = (password: string | undefined) =>
      spawnSync("/bin/sh", ["-c", script], {
        encoding: "utf8",
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...(password === undefined ? {} : { GF_SECURITY_ADMIN_PASSWORD: password }) }
      })
    for (const weak of [undefined, "", "admin", "short-pass1"]) {
      const r = start(weak)
      assert.strictEqual(r.status, 1, String(weak))
      assert.match(r.stderr, /set GRAFANA_ADMIN_PASSWORD/)
    }
    // A strong one passes the check and reaches Grafana's own /run.sh (absent here: 127, "not found").
    const r = start("correct-horse-battery-staple")
    assert.notMatch(r.stderr, /set GRAFANA_ADMIN_PASSWORD/)
    assert.match(r.stderr, /run\.sh/)
  })

  it("Grafana is provisioned with the datasources and the dashboard folder", () => {
    const grafana = services["grafana"]!
    const mounts = new Map(bindMounts(grafana))
    assert.strictEqual(mounts.get("deploy/grafana/provisioning"), "/etc/grafana/provisioning")
    const provider = yaml<{ providers: Array<{ options: { path: string } }> }>(
      "deploy/grafana/provisioning/dashboards/dashboards.yml"
    ).providers[0]!
    assert.strictEqual(mounts.get("deploy/grafana/dashboards"), provider.options.path)
    const sources = yaml<{ datasources: Array<{ uid: string; type: string; url: string }> }>(
      "deploy/grafana/provisioning/datasources/datasources.yml"
    ).datasources
    assert.deepStrictEqual(sources.map((d) => d.type).sort(), ["jaeger", "loki", "prometheus"])
    const grafanaEnv = env(grafana)
    for (const d of sources) {
      const name = /^\$\{(\w+)\}$/.exec(d.url)?.[1]
      assert.isDefined(name, `${d.uid} url`)
      assert.match(grafanaEnv[name!] ?? "", /^http:\/\/[a-z-]+:\d+$/, name)
      const host = new URL(grafanaEnv[name!]!).hostname
      assert.isDefined(services[host], `${d.uid} -> ${host}`)
    }
  })

  it("the service's OTLP endpoint reaches the collector, which forwards to the trace backend", () => {
    const collector = yaml<{
      receivers: { otlp: { protocols: { http: { endpoint: string } } } }
      exporters: Record<string, { endpoint: string }>
      service: { pipelines: { traces: { exporters: Array<string> } } }
    }>("deploy/otel-collector.yml")
    assert.strictEqual(collector.receivers.otlp.protocols.http.endpoint, "0.0.0.0:4318")
    assert.include(read("docker-compose.yml"), "OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318")
    const exporter = collector.exporters[collector.service.pipelines.traces.exporters[0]!]!
    const target = exporter.endpoint.replace(/^\$\{env:(\w+)\}$/, (_, v: string) => env(services["otel-collector"]!)[v] ?? "")
    assert.strictEqual(target, "jaeger:4317")
    assert.strictEqual(env(services["jaeger"]!)["COLLECTOR_OTLP_ENABLED"], "true")
  })

  it("Promtail pushes to Loki and collects the service's container logs", () => {
    const promtail = yaml<{ clients: Array<{ url: string }>; scrape_configs: Array<{ docker_sd_configs?: Array<{ filters: Array<{ values: Array<string> }> }> }> }>(
      "deploy/promtail.yml"
    )
    assert.strictEqual(promtail.clients[0]!.url, "${LOKI_PUSH_URL}")
    assert.match(env(services["promtail"]!)["LOKI_PUSH_URL"] ?? "", /^http:\/\/loki:3100\//)
    assert.include(commandLine(services["promtail"]!), "-config.expand-env=true")
    const filter = promtail.scrape_configs[0]!.docker_sd_configs![0]!.filters[0]!.values[0]!
    const [label, value] = filter.split("=")
    assert.strictEqual((services["balance-service"] as Service & { labels: Record<string, string> }).labels[label!], value)
  })
})

const composeCli = (): Array<string> | undefined => {
  for (const cmd of [["docker", "compose"], ["docker-compose"]]) {
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), "version"], { encoding: "utf8" })
    if (r.status === 0) return cmd
  }
  return undefined
}
const cli = composeCli()

describe.skipIf(cli === undefined)("docker compose config (when the CLI is installed)", () => {
  it("renders the file with every profile", () => {
    const r = spawnSync(cli![0]!, [...cli!.slice(1), "--profile", "observability", "config", "--quiet"], {
      cwd: root,
      encoding: "utf8"
    })
    assert.notMatch(r.stderr, /error/i)
    assert.strictEqual(r.status, 0)
  })
})
