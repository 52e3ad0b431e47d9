// A walletgate of a test's own, on the memory store, for tests that would
// disturb the shared server (moving its clock) or need a state of their own
// (a queue of exactly so many withdrawals): started on a free port with the
// given settings (`WALLETGATE__…` variables) and scenario files, stopped by
// the test.

import { spawn } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const BINARY = process.env.WALLETGATE_BIN ?? path.join(here, "..", "..", "target", "release", "walletgate");
const START_TRIES = 300;
const START_PAUSE_MS = 100;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the server; `env` adds settings, `scenario` (TOML text) is loaded
 * at startup. Resolves once it is ready, with its `base` URL and `stop()`.
 */
export async function ownServer({ env = {}, scenario = null } = {}) {
  const port = await freePort();
  const args = ["--port", String(port), "--store", "memory://"];
  if (scenario) {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "wg-e2e-")), "scenario.toml");
    writeFileSync(file, scenario);
    args.push("--scenario", file);
  }
  const child = spawn(BINARY, args, {
    stdio: "ignore",
    env: { ...process.env, WALLETGATE__LOG__LEVEL: "warn", ...env },
  });
  const base = `http://127.0.0.1:${port}`;
  for (let tries = 0; tries < START_TRIES; tries += 1) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return { base, stop: () => child.kill() };
    } catch {
      // Not listening yet.
    }
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, START_PAUSE_MS));
  }
  child.kill();
  throw new Error("the test's own server did not start");
}

/** POSTs `body` as JSON to `base` (with `token`, if given) and answers the JSON. */
export async function postJson(base, path, body, token = null) {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token && { Authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
  return response.json();
}

/**
 * Registers `phone` on `base` and asks for an L1 identity check (王小明,
 * `idNumber`) that waits for an operator; answers the user's access token.
 */
export async function pendingIdentityCheck(base, phone, idNumber) {
  const password = "kyc-demo-password";
  await postJson(base, "/v1/auth/register", { phone, password });
  const { access_token: token } = await postJson(base, "/v1/auth/login", { phone, password });
  await postJson(base, "/v1/kyc", { level: "L1", real_name: "王小明", id_number: idNumber }, token);
  return token;
}
