// Server-Sent Events read with fetch(), because EventSource cannot send the
// Authorization header. Parses the text/event-stream format (id:, event:,
// data:, retry:, comments), and reconnects after the stream ends or fails,
// sending Last-Event-ID so the server resumes right after the last event seen.

const RETRY_MS_DEFAULT = 2000;

/**
 * Opens `url` as an event stream. `onEvent({ id, type, data })` gets each event
 * (data parsed as JSON when it is JSON); `onOpen()` runs on every (re)connection,
 * once the server has answered; `onError(error)` on failures, before the retry.
 * On a 401, `onUnauthorized()` may get a new token and resolve true to go on;
 * otherwise the stream stops for good. Returns `{ close() }`.
 */
export function openEventStream({
  url,
  token,
  onEvent,
  onOpen = () => {},
  onError = () => {},
  onUnauthorized = async () => false,
  lastEventId = null,
}) {
  let closed = false;
  let controller = null;
  let timer = null;
  let retryMs = RETRY_MS_DEFAULT;
  let lastId = lastEventId;

  async function connect() {
    controller = new AbortController();
    const headers = { Accept: "text/event-stream", Authorization: `Bearer ${token()}` };
    if (lastId) headers["Last-Event-ID"] = lastId;
    try {
      const response = await fetch(url, { headers, signal: controller.signal, cache: "no-store" });
      if (!response.ok) {
        const error = new Error(`event stream answered ${response.status}`);
        error.status = response.status;
        throw error;
      }
      onOpen();
      await readEvents(response.body, {
        onField(name, value) {
          if (name === "retry" && /^\d+$/.test(value)) retryMs = Number(value);
        },
        onEvent(event) {
          if (event.id !== null) lastId = event.id;
          if (event.data !== null) onEvent({ id: lastId, type: event.type, data: parseData(event.data) });
        },
      });
    } catch (error) {
      if (closed) return;
      onError(error);
      if (error.status === 401) {
        if (await onUnauthorized()) {
          if (!closed) connect();
        } else {
          closed = true;
        }
        return;
      }
    }
    if (!closed) timer = setTimeout(connect, retryMs);
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      controller?.abort();
    },
  };
}

function parseData(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Reads a text/event-stream body to its end. Blocks are separated by a blank
 * line; each line is `field: value` (one optional space after the colon), or
 * a comment starting with ':'. Multiple data lines join with "\n".
 */
export async function readEvents(body, { onEvent, onField = () => {} }) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = emptyEvent();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      const width = buffer.startsWith("\r\n", newline) ? 2 : 1;
      // A lone "\r" at the end of a chunk may be the first half of "\r\n".
      if (width === 1 && buffer[newline] === "\r" && newline === buffer.length - 1) break;
      buffer = buffer.slice(newline + width);
      if (line === "") {
        if (event.id !== null || event.data !== null) onEvent(event);
        event = emptyEvent();
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      let fieldValue = colon < 0 ? "" : line.slice(colon + 1);
      if (fieldValue.startsWith(" ")) fieldValue = fieldValue.slice(1);
      if (name === "id" && !fieldValue.includes("\0")) event.id = fieldValue;
      else if (name === "event") event.type = fieldValue;
      else if (name === "data") event.data = event.data === null ? fieldValue : `${event.data}\n${fieldValue}`;
      else onField(name, fieldValue);
    }
  }
}

function emptyEvent() {
  return { id: null, type: "message", data: null };
}
