// A page served from another origin (as a Vite dev server or an Expo web
// build would serve a mockup) calls the API with a bearer token: the browser's
// preflight is answered and the answers, refusals included, are readable.

import { test, expect } from "@playwright/test";
import { createServer } from "node:http";

/** A one-page site on its own port: another origin than the gateway's. */
let site;
let siteOrigin;

test.beforeAll(async () => {
  site = createServer((request, response) => {
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    response.end("<!doctype html><title>mockup</title><p>mockup</p>");
  });
  await new Promise((resolve) => site.listen(0, "localhost", resolve));
  siteOrigin = `http://localhost:${site.address().port}`;
});

test.afterAll(async () => {
  await new Promise((resolve) => site.close(resolve));
});

/** Opens the other origin's page and logs Alice in from it (a cross-origin call). */
async function logInFromOtherOrigin(page, api) {
  await page.goto(siteOrigin);
  return page.evaluate(async (api) => {
    const login = await fetch(`${api}/v1/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ phone: "13800000001", password: "alice-demo" }),
    });
    const { access_token: token } = await login.json();
    return { status: login.status, token };
  }, api);
}

test("a page on another origin logs in, reads the wallet and reads a refusal", async ({ page, baseURL }) => {
  const login = await logInFromOtherOrigin(page, baseURL);
  const seen = await page.evaluate(
    async ([api, token]) => {
      const wallet = await fetch(`${api}/v1/wallet`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      const refused = await fetch(`${api}/v1/wallet`, {
        headers: { Authorization: "Bearer not-a-token" },
      });
      return {
        origin: window.location.origin,
        wallet: wallet.status,
        balance: (await wallet.json()).available,
        refused: refused.status,
        refusal: (await refused.json()).error.code,
        requestId: refused.headers.get("x-request-id"),
      };
    },
    [baseURL, login.token],
  );
  expect(seen.origin).toBe(siteOrigin);
  expect(new URL(baseURL).origin).not.toBe(siteOrigin);
  expect(login.status).toBe(200);
  expect(seen.wallet).toBe(200);
  expect(seen.balance).toMatch(/^\d+\.\d{2}$/);
  expect(seen.refused).toBe(401);
  expect(seen.refusal).toBe("UNAUTHENTICATED");
  expect(seen.requestId).toBeTruthy();
});

test("a page on another origin opens the event stream with a single-use ticket", async ({ page, baseURL }) => {
  const { token } = await logInFromOtherOrigin(page, baseURL);
  const seen = await page.evaluate(
    async ([api, token]) => {
      const issued = await fetch(`${api}/v1/events/ticket`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
      });
      const { ticket } = await issued.json();
      const open = (url) =>
        new Promise((resolve) => {
          const source = new EventSource(url);
          source.onopen = () => {
            source.close();
            resolve("open");
          };
          source.onerror = () => {
            source.close();
            resolve("refused");
          };
        });
      const first = await open(`${api}/v1/events?ticket=${ticket}`);
      const second = await open(`${api}/v1/events?ticket=${ticket}`);
      return { issued: issued.status, first, second };
    },
    [baseURL, token],
  );
  expect(seen.issued).toBe(201);
  expect(seen.first).toBe("open");
  expect(seen.second).toBe("refused");
});
