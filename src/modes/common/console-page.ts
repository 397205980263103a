/**
 * The browser console every mode serves (echo and pipe at GET /, program mode's `--devconsole`): one markup,
 * one stylesheet, one script. It connects back to the same URL, names the mode it talks to, timestamps every
 * line, reconnects (a button; on the plain console page also automatically, with backoff) and, when a
 * handshake is refused, asks the server why (`GET same-path?why`) since a browser reports only 1006.
 * Self-contained (no external resources, inline empty favicon); everything shown goes through `textContent`.
 */
export interface ConsolePageOptions {
  /** Title of the page. */
  title: string;
  /** What the page talks to, shown in the header: `echo mode`, `pipe mode`, `program mode (…)`. */
  mode: string;
  /** Reconnect by itself after an unexpected close (not for programs: each connection runs one). */
  autoReconnect: boolean;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const CONSOLE_STYLE = `
  :root { color-scheme: light dark; --line: #8884; --muted: #888; }
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header, form { display: flex; gap: .5rem; padding: .5rem; align-items: center; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 1rem; margin: 0; white-space: nowrap; }
  #mode { color: var(--muted); white-space: nowrap; }
  input { flex: 1; padding: .35rem; font: 14px ui-monospace, monospace; }
  button { padding: .35rem .8rem; }
  #status { min-width: 6rem; font-weight: 600; }
  #log { flex: 1; overflow-y: auto; margin: 0; padding: .5rem; list-style: none; font: 14px/1.5 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
  #log li::before { content: attr(data-time) "  "; color: var(--muted); }
  #log li.out { color: #1a5fb4; } #log li.in { color: #26a269; } #log li.event { color: var(--muted); font-style: italic; }
  #log li.error { color: #c01c28; }
`;

const SCRIPT = `
(() => {
  const $ = (id) => document.getElementById(id);
  const log = $('log'), status = $('status'), url = $('url'), message = $('message');
  const autoReconnect = document.body.dataset.autoReconnect === 'true';
  let socket = null, wanted = true, retry = 0, timer = null;
  url.value = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + location.pathname + location.search;
  const stamp = () => new Date().toTimeString().slice(0, 8) + '.' + String(Date.now() % 1000).padStart(3, '0');
  function show(kind, text) {
    const item = document.createElement('li');
    item.className = kind;
    item.dataset.time = stamp();
    item.textContent = text;
    log.append(item);
    log.scrollTop = log.scrollHeight;
  }
  function setOpen(open) {
    $('connect').disabled = open;
    $('disconnect').disabled = !open;
    message.disabled = !open;
    $('send').disabled = !open;
    $('send-binary').disabled = !open;
    if (open) message.focus();
  }
  // A refused handshake is only 1006 to a WebSocket: ask the server what it answered.
  async function why() {
    const target = new URL(url.value.replace(/^ws/, 'http'));
    if (target.host !== location.host) return null;
    target.search += (target.search ? '&' : '?') + 'why';
    try {
      const response = await fetch(target, { cache: 'no-store' });
      return response.status === 200 ? await response.json() : null;
    } catch { return null; }
  }
  function connect() {
    clearTimeout(timer);
    if (socket) return;
    wanted = true;
    show('event', 'connecting to ' + url.value);
    status.textContent = 'connecting';
    try {
      socket = new WebSocket(url.value);
    } catch (error) {
      show('error', String(error));
      status.textContent = 'closed';
      socket = null;
      return;
    }
    let opened = false;
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => { opened = true; retry = 0; status.textContent = 'open'; show('event', 'open'); setOpen(true); };
    socket.onmessage = (e) => {
      if (typeof e.data === 'string') show('in', '\\u2190 ' + e.data);
      else {
        const bytes = new Uint8Array(e.data);
        show('in', '\\u2190 binary, ' + bytes.length + ' bytes: ' + Array.from(bytes.slice(0, 64), (b) => b.toString(16).padStart(2, '0')).join(' '));
      }
    };
    socket.onerror = () => { if (opened) show('error', 'error'); };
    socket.onclose = async (e) => {
      socket = null;
      setOpen(false);
      const refusal = !opened && e.code === 1006 ? await why() : null;
      if (refusal) {
        status.textContent = 'refused';
        show('error', 'handshake refused: ' + refusal.status + ' ' + refusal.message);
        return; // the same request would be refused again: no automatic retry
      }
      status.textContent = 'closed';
      show('event', 'closed: ' + e.code + (e.reason ? ' ' + e.reason : ''));
      if (autoReconnect && wanted) {
        const delay = Math.min(30000, 1000 * 2 ** retry++);
        show('event', 'reconnecting in ' + delay / 1000 + ' s');
        timer = setTimeout(connect, delay);
      }
    };
  }
  $('connect').onclick = connect;
  $('disconnect').onclick = () => { wanted = false; if (socket) socket.close(1000); };
  $('clear').onclick = () => log.replaceChildren();
  $('form').onsubmit = (e) => {
    e.preventDefault();
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(message.value);
    show('out', '\\u2192 ' + message.value);
    message.value = '';
  };
  $('send-binary').onclick = () => {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const bytes = new TextEncoder().encode(message.value);
    socket.send(bytes);
    show('out', '\\u2192 binary, ' + bytes.length + ' bytes');
    message.value = '';
  };
  connect();
})();
`;

/** The console page's HTML for one mode. */
export function consolePage(options: ConsolePageOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(options.title)}</title>
<style>${CONSOLE_STYLE}</style>
</head>
<body data-auto-reconnect="${options.autoReconnect}">
<header>
  <h1>wsbridge</h1>
  <span id="mode">${escapeHtml(options.mode)}</span>
  <input id="url" aria-label="WebSocket URL" spellcheck="false">
  <button id="connect" type="button">Connect</button>
  <button id="disconnect" type="button" disabled>Disconnect</button>
  <span id="status">closed</span>
</header>
<ul id="log" aria-live="polite"></ul>
<form id="form">
  <input id="message" autocomplete="off" placeholder="Message to send (Enter sends)" disabled>
  <button id="send" type="submit" disabled>Send</button>
  <button id="send-binary" type="button" disabled>Send as binary</button>
  <button id="clear" type="button">Clear</button>
</form>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
