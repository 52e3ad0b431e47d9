// The pages and assets as the server sends them: types, caching and a
// same-origin Content-Security-Policy.

import { test, expect } from "@playwright/test";

const PAGES = [
  ["/app", "text/html; charset=utf-8"],
  ["/app/", "text/html; charset=utf-8"],
  ["/ops", "text/html; charset=utf-8"],
  ["/app/assets/main.js", "text/javascript; charset=utf-8"],
  ["/app/assets/app.css", "text/css; charset=utf-8"],
  ["/ops/assets/main.js", "text/javascript; charset=utf-8"],
  ["/shared/api.js", "text/javascript; charset=utf-8"],
  ["/shared/icon.svg", "image/svg+xml"],
];

test("pages and assets come with their type, revalidation and a same-origin policy", async ({ request }) => {
  for (const [path, type] of PAGES) {
    const response = await request.get(path);
    expect(response.status(), path).toBe(200);
    const headers = response.headers();
    expect(headers["content-type"], path).toBe(type);
    expect(headers["cache-control"], path).toBe("no-cache");
    expect(headers["content-security-policy"], path).toContain("default-src 'self'");
    expect(headers["content-security-policy"], path).toContain("script-src 'self';");
    expect(headers["x-content-type-options"], path).toBe("nosniff");
    const again = await request.get(path, { headers: { "If-None-Match": headers.etag } });
    expect(again.status(), `${path} revalidated`).toBe(304);
  }
});

test("an unknown asset is a 404 in the API's error shape", async ({ request }) => {
  const response = await request.get("/app/assets/nothing-here.js");
  expect(response.status()).toBe(404);
  expect((await response.json()).error.code).toBe("NOT_FOUND");
});
