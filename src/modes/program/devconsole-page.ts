/**
 * The `--devconsole` page: served for any plain HTTP request, it offers to connect to the WebSocket at the
 * same URL (ws:// or wss://, path and query kept), send lines to the program and see its replies and the
 * close code. Self-contained; everything shown goes through `textContent`, never HTML.
 */
export const DEVCONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsbridge dev console</title>
<style>
  :root { color-scheme: light dark; }
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header, form { display: flex; gap: .5rem; padding: .5rem; align-items: center; border-bottom: 1px solid #8884; }
  input { flex: 1; padding: .35rem; font: 14px ui-monospace, monospace; }
  button { padding: .35rem .8rem; }
  #status { min-width: 6rem; font-weight: 600; }
  #log { flex: 1; overflow-y: auto; margin: 0; padding: .5rem; list-style: none; font: 14px/1.5 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
  #log li.out { color: #1a5fb4; } #log li.in { color: #26a269; } #log li.event { color: #888; font-style: italic; }
  #log li.error { color: #c01c28; }
</style>
</head>
<body>
<header>
  <strong>wsbridge</strong>
  <input id="url" aria-label="WebSocket URL" spellcheck="false">
  <button id="connect" type="button">Connect</button>
  <button id="disconnect" type="button" disabled>Disconnect</button>
  <span id="status">closed</span>
</header>
<ul id="log" aria-live="polite"></ul>
<form id="form">
  <input id="message" autocomplete="off" placeholder="Message to send (Enter sends)" disabled>
  <button id="send" type="submit" disabled>Send</button>
  <button id="clear" type="button">Clear</button>
</form>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const log = $('log'), status = $('status'), url = $('url'), message = $('message');
  let socket = null;
  url.value = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + location.pathname + location.search;
  function show(kind, text) {
    const item = document.createElement('li');
    item.className = kind;
    item.textContent = text;
    log.append(item);
    log.scrollTop = log.scrollHeight;
  }
  function setOpen(open) {
    $('connect').disabled = open;
    $('disconnect').disabled = !open;
    message.disabled = !open;
    $('send').disabled = !open;
    if (open) message.focus();
  }
  $('connect').onclick = () => {
    if (socket) return;
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
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => { status.textContent = 'open'; show('event', 'open'); setOpen(true); };
    socket.onmessage = (e) => {
      if (typeof e.data === 'string') show('in', '\\u2190 ' + e.data);
      else show('in', '\\u2190 binary, ' + e.data.byteLength + ' bytes');
    };
    socket.onerror = () => show('error', 'error');
    socket.onclose = (e) => {
      status.textContent = 'closed';
      show('event', 'closed: ' + e.code + (e.reason ? ' ' + e.reason : ''));
      socket = null;
      setOpen(false);
    };
  };
  $('disconnect').onclick = () => socket && socket.close(1000);
  $('clear').onclick = () => log.replaceChildren();
  $('form').onsubmit = (e) => {
    e.preventDefault();
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(message.value);
    show('out', '\\u2192 ' + message.value);
    message.value = '';
  };
  $('connect').click();
})();
</script>
</body>
</html>
`;
