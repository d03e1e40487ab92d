// What `npm run dev` runs, as data that it and the end-to-end tests share: the ports, the
// configuration documents (config/*.dev.yaml with those ports filled in), the client secrets it
// makes up, and what it tells a newcomer. scripts/dev.ts runs the documents in `wrangler dev`;
// test/e2e/ runs the very same documents in workerd through Miniflare, on free ports.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const ROOT = join(import.meta.dirname, "..");

export interface DevPorts {
  gateway: number;
  auth: number;
  /** The demo MCP server (an MCP Proxy app). */
  mcp: number;
  /** The demo REST API (an MCP Bridge app). */
  rest: number;
  /** The demo audit collector (the gateway's audit sink). */
  audit: number;
  /**
   * `npm run agent`'s own loopback server (its redirect URI and client ID metadata document): the
   * one loopback origin, http://127.0.0.1:<agent>, the dev auth tier fetches documents from
   * (clientIdMetadataDocuments.allowedLoopbackOrigins in config/auth.dev.yaml).
   */
  agent: number;
}

/** The ports the dev documents name. */
export const DEV_PORTS: DevPorts = { gateway: 8787, auth: 8788, mcp: 9001, rest: 9002, audit: 9003, agent: 9004 };
const PORT_VARIABLES: Record<keyof DevPorts, string> = {
  gateway: "GATEWAY_PORT",
  auth: "AUTH_PORT",
  mcp: "DEMO_MCP_PORT",
  rest: "DEMO_REST_PORT",
  audit: "DEMO_AUDIT_PORT",
  agent: "AGENT_PORT",
};

/** DEV_PORTS, each moved by its variable (GATEWAY_PORT, AUTH_PORT, DEMO_MCP_PORT, DEMO_REST_PORT, DEMO_AUDIT_PORT, AGENT_PORT). */
export function devPortsFromEnv(env: NodeJS.ProcessEnv = process.env): DevPorts {
  const entries = Object.entries(PORT_VARIABLES).map(([name, variable]) => [
    name,
    Number(env[variable] ?? DEV_PORTS[name as keyof DevPorts]),
  ]);
  return Object.fromEntries(entries) as DevPorts;
}

/** config/auth.dev.yaml and config/gateway.dev.yaml, every `localhost:<default port>` (and `127.0.0.1:<default port>`) moved to `ports`. */
export function devConfigs(ports: DevPorts): { auth: string; gateway: string } {
  const moved = new Map(Object.entries(DEV_PORTS).map(([name, port]) => [String(port), ports[name as keyof DevPorts]]));
  // One pass over the text, so that a port moved onto another default port is not moved twice.
  const withPorts = (text: string) =>
    text.replace(/(localhost|127\.0\.0\.1):(\d+)/g, (match, host: string, port: string) =>
      moved.has(port) ? `${host}:${moved.get(port)}` : match,
    );
  const read = (name: string) => withPorts(readFileSync(join(ROOT, "config", name), "utf8"));
  return { auth: read("auth.dev.yaml"), gateway: read("gateway.dev.yaml") };
}

/** Secrets of the dev documents' clients (`{ env: NAME }` there), made up per run. */
export function devClientSecrets(): { GATEWAY_CLIENT_SECRET: string; DEMO_AGENT_SECRET: string } {
  return {
    GATEWAY_CLIENT_SECRET: randomBytes(24).toString("base64url"),
    DEMO_AGENT_SECRET: randomBytes(24).toString("base64url"),
  };
}

/**
 * The demo audit collector's bearer token, made up per run: the gateway's sink sends it as
 * `Authorization: Bearer <token>` (AUDIT_SINK_AUTH, the whole header value), the collector
 * accepts events and lists them only with it.
 */
export function devAuditToken(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * Where `npm run dev` keeps the tiers' secrets while it runs: a directory only this user may enter
 * (mkdtemp makes it 0700) holding one env file a tier (0600), for `wrangler dev --env-file`. A
 * command line is readable by every local user (/proc/<pid>/cmdline), so secrets never go there.
 */
export interface DevSecretFiles {
  dir: string;
  /** Writes `vars` as an env file named `name` and returns its path. */
  write(name: string, vars: Record<string, string>): string;
  /** Removes the directory and its files. */
  remove(): void;
}

export function devSecretFiles(): DevSecretFiles {
  const dir = mkdtempSync(join(tmpdir(), "aigw-dev-secrets-"));
  return {
    dir,
    write(name, vars) {
      const lines = Object.entries(vars).map(([key, value]) => {
        // Single quotes keep the value literal in wrangler's .env parser (dotenv); these characters
        // would end it early or be expanded ($NAME), and none occurs in a generated secret or a JWK.
        if (/['\r\n$]/.test(value))
          throw new Error(
            `the secret ${key} holds a quote, a line break or a $, which an env file cannot carry literally`,
          );
        return `${key}='${value}'\n`;
      });
      const file = join(dir, `${name}.env`);
      writeFileSync(file, lines.join(""), { mode: 0o600, flag: "wx" });
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** What a client needs to know about a running dev stack; `npm run dev` writes it for `npm run agent`. */
export interface DevStackInfo {
  /** The MCP endpoint, e.g. http://localhost:8787/mcp */
  mcp: string;
  gateway: string;
  auth: string;
  /** Where `npm run agent` serves its redirect URI and metadata document (the dev tier fetches from it). */
  agentOrigin: string;
  /** The audit collector's event list (GET, `?session_id=` filters). */
  auditEvents: string;
  /** The bearer token GET auditEvents needs (the one the gateway's sink sends). */
  auditToken: string;
  /** The built-in user of config/auth.dev.yaml (public: local development only). */
  user: { username: string; password: string };
  /** The client_credentials agent of config/auth.dev.yaml. */
  machineAgent: { clientId: string; clientSecret: string };
}

export function devStackInfo(
  ports: DevPorts,
  secrets: { DEMO_AGENT_SECRET: string },
  auditToken: string,
): DevStackInfo {
  const gateway = `http://localhost:${ports.gateway}`;
  return {
    mcp: `${gateway}/mcp`,
    gateway,
    auth: `http://localhost:${ports.auth}`,
    agentOrigin: `http://127.0.0.1:${ports.agent}`,
    auditEvents: `http://localhost:${ports.audit}/events`,
    auditToken,
    user: { username: "demo", password: "demo" },
    machineAgent: { clientId: "demo-agent", clientSecret: secrets.DEMO_AGENT_SECRET },
  };
}

/** Where `npm run dev` leaves DevStackInfo (DEV_STACK_FILE moves it; .build/ is not committed). */
export const DEV_STACK_FILE = process.env.DEV_STACK_FILE ?? join(ROOT, ".build", "dev", "stack.json");

export function writeDevStackInfo(info: DevStackInfo, file = DEV_STACK_FILE): void {
  mkdirSync(dirname(file), { recursive: true });
  // It holds the machine agent's secret: readable by this user only.
  writeFileSync(file, JSON.stringify(info, null, 2), { mode: 0o600 });
}

export function readDevStackInfo(file = DEV_STACK_FILE): DevStackInfo | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as DevStackInfo) : undefined;
}

/** A shell command that prints an access token of the machine agent for the gateway. */
export function machineTokenCommand(info: DevStackInfo): string {
  const { clientId, clientSecret } = info.machineAgent;
  return `curl -s -u ${clientId}:${clientSecret} -d grant_type=client_credentials -d resource=${info.mcp} -d 'scope=tools:read tools:write' ${info.auth}/token | jq -r .access_token`;
}

/** What `npm run dev` prints once the stack is up: where everything is and how to connect. */
export function connectHelp(info: DevStackInfo): string[] {
  return [
    "the stack is up:",
    `  gateway (MCP)  ${info.mcp}    status: ${info.gateway}/status`,
    `  auth tier      ${info.auth}        status: ${info.auth}/status`,
    `  audit events   ${info.auditEvents}    (Authorization: Bearer <auditToken in ${DEV_STACK_FILE}>)`,
    `demo login: ${info.user.username} / ${info.user.password} (built-in user from config/auth.dev.yaml)`,
    `machine agent: client_id ${info.machineAgent.clientId}, client_secret ${info.machineAgent.clientSecret}`,
    "connect:",
    "  npm run agent      a scripted agent: discovery, registration, browser login, policy, token exchange, audit",
    `  TOKEN=$(${machineTokenCommand(info)})`,
    `  npx @modelcontextprotocol/inspector --cli ${info.mcp} --transport http --header "Authorization: Bearer $TOKEN" --method tools/list`,
    `  npx mcp-remote ${info.mcp}      (a stdio server for stdio-only clients; logs you in through your browser)`,
    "Ctrl-C stops everything.",
  ];
}

/** What `npm run dev` runs: everything, or one part alone (`--only auth|gateway|demo`). */
export type DevPart = "all" | "auth" | "gateway" | "demo";

/** `npm run dev`'s arguments; a wrong one throws with the usage. */
export function parseDevArgs(args: string[]): { only: DevPart } {
  const usage = "usage: npm run dev [-- --only auth|gateway|demo]";
  let only: DevPart = "all";
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.split(/=(.*)/s);
    if (flag !== "--only") throw new Error(`unknown argument ${args[i]}; ${usage}`);
    const value = inline ?? args[++i];
    if (value !== "auth" && value !== "gateway" && value !== "demo")
      throw new Error(`--only takes auth, gateway or demo; ${usage}`);
    only = value;
  }
  return { only };
}

/**
 * wrangler's dev registry for a stack: WRANGLER_REGISTRY_PATH when set, else `registry` in the
 * stack's Durable Object storage. Wrangler's own default is one directory per user, where the
 * worker names of two checkouts' stacks collide (each names its tiers ai-identity-auth and
 * ai-identity-gateway) and one stack's gateway binds to the other's auth tier.
 */
export function devRegistryPath(env: NodeJS.ProcessEnv, persistDir: string): string {
  return env.WRANGLER_REGISTRY_PATH || join(persistDir, "registry");
}

/** What `npm run dev -- --only <part>` prints once its part is up: where it is and how to run the others beside it. */
export function oneTierHelp(
  part: Exclude<DevPart, "all">,
  ports: DevPorts,
  secrets: { GATEWAY_CLIENT_SECRET: string; DEMO_AGENT_SECRET: string; DEV_AUDIT_TOKEN: string },
  registry: string,
): string[] {
  const lines: string[] = [];
  if (part === "auth") {
    lines.push(
      `the auth tier is up alone: http://localhost:${ports.auth}    status: http://localhost:${ports.auth}/status`,
      `machine agent: client_id demo-agent, client_secret ${secrets.DEMO_AGENT_SECRET}`,
      "the gateway alone against it, from this checkout (same dev registry), in another terminal:",
      `  GATEWAY_CLIENT_SECRET=${secrets.GATEWAY_CLIENT_SECRET} npm run dev -- --only gateway`,
    );
  } else if (part === "gateway") {
    lines.push(
      `the gateway is up alone: http://localhost:${ports.gateway}/mcp    status: http://localhost:${ports.gateway}/status ("auth" says whether it reaches an auth tier)`,
      `its AUTH binding finds an auth tier started from this checkout (dev registry ${registry}): npm run dev -- --only auth`,
      "  token exchange needs that tier started with this GATEWAY_CLIENT_SECRET, or this gateway with that tier's",
      `its audit sink is the demo collector on port ${ports.audit}: DEV_AUDIT_TOKEN=${secrets.DEV_AUDIT_TOKEN} npm run dev -- --only demo`,
    );
  } else {
    lines.push(
      "the demo upstreams are up alone (above)",
      `they trust tokens of the auth tier at http://localhost:${ports.auth}; a gateway alone sends its audit events here with: DEV_AUDIT_TOKEN=${secrets.DEV_AUDIT_TOKEN} npm run dev -- --only gateway`,
    );
  }
  lines.push("Ctrl-C stops everything.");
  return lines;
}
