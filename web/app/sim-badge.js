// The "simulated time" badge: in a simulator whose business clock is not
// wall time (an operator advanced or froze it), the app says so under its
// top bar, with the business time, so nobody mistakes a settlement "a day
// later" for a bug. Reads the open GET /v1/sim/clock; a server that is no
// simulator answers 404 there and the badge stays hidden.

import { h, fill } from "/shared/dom.js";
import { formatTimestamp } from "/shared/format.js";

/** At most one read per this many ms, however often screens change. */
const READ_EVERY_MS = 10_000;
const REFRESH_MS = 60_000;

export function simulatedTimeBadge(element, i18n) {
  let clock = null;
  let readAt = 0;

  function render() {
    const simulated = clock && (clock.offset_secs !== 0 || clock.frozen);
    element.hidden = !simulated;
    if (!simulated) return;
    const key = clock.frozen ? "sim.badge_frozen" : "sim.badge";
    fill(element, h("span", { className: "sim-badge-dot", "aria-hidden": "true" }), i18n.t(key, { time: now() }));
  }

  /** Business time now: as read, moved on by the wall time since (unless frozen). */
  function now() {
    const elapsed = clock.frozen ? 0 : Date.now() - readAt;
    return formatTimestamp(new Date(Date.parse(clock.now) + elapsed).toISOString(), i18n.locale);
  }

  async function read({ force = false } = {}) {
    if (!force && Date.now() - readAt < READ_EVERY_MS) return render();
    try {
      const response = await fetch("/v1/sim/clock", { headers: { Accept: "application/json" } });
      clock = response.ok ? await response.json() : null;
    } catch {
      clock = null;
    }
    readAt = Date.now();
    render();
  }

  setInterval(() => read({ force: true }), REFRESH_MS);
  read({ force: true });
  return { read, render };
}
