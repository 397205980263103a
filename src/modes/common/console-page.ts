/**
 * The small page a browser gets for GET /: it connects back to the same address and lets a person send
 * text or binary messages and see what comes back. Self-contained (no external resources).
 */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsbridge</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 48rem; padding: 0 1rem; }
  form { display: flex; gap: .5rem; }
  #message { flex: 1; padding: .4rem; font: inherit; }
  #log { list-style: none; padding: 0; font-family: ui-monospace, monospace; white-space: pre-wrap; }
  #log li { border-bottom: 1px solid #eee; padding: .2rem 0; }
  .out { color: #1a5fb4; } .in { color: #26a269; } .event { color: #777; }
</style>
</head>
<body>
<h1>wsbridge</h1>
<p>Status: <strong id="status">connecting</strong></p>
<form id="form">
  <input id="message" autocomplete="off" placeholder="Type a message" autofocus>
  <button id="send" type="submit">Send</button>
  <button id="send-binary" type="button">Send as binary</button>
</form>
<ul id="log"></ul>
<script>
  const log = document.getElementById('log');
  const status = document.getElementById('status');
  const input = document.getElementById('message');
  function show(kind, text) {
    const item = document.createElement('li');
    item.className = kind;
    item.textContent = text;
    log.append(item);
  }
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + location.pathname;
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  socket.onopen = () => { status.textContent = 'open'; show('event', 'connected to ' + url); };
  socket.onclose = (e) => { status.textContent = 'closed'; show('event', 'closed: ' + e.code + ' ' + e.reason); };
  socket.onerror = () => show('event', 'error');
  socket.onmessage = (e) => {
    if (typeof e.data === 'string') show('in', '← ' + e.data);
    else {
      const bytes = new Uint8Array(e.data);
      show('in', '← binary ' + bytes.length + ' bytes: ' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' '));
    }
  };
  document.getElementById('form').onsubmit = (e) => {
    e.preventDefault();
    socket.send(input.value);
    show('out', '→ ' + input.value);
    input.value = '';
  };
  document.getElementById('send-binary').onclick = () => {
    const bytes = new TextEncoder().encode(input.value);
    socket.send(bytes);
    show('out', '→ binary ' + bytes.length + ' bytes');
    input.value = '';
  };
</script>
</body>
</html>
`;
