/** Host headers and listen addresses: `name:port`, `[v6]:port`, or a bare name. */
/**
 * Splits a `Host` header as websocketd does: `example.com:8080` → (`example.com`, `8080`); without a port
 * the default one (80, or 443 with TLS); `[::1]:8080` → (`::1`, `8080`). A value it cannot split (too
 * many colons) gives empty strings, as Go's `net.SplitHostPort` failure does there.
 */
export function splitHostPort(host: string, tls: boolean): { name: string; port: string } {
  const fallback = tls ? '443' : '80';
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close === -1) return { name: '', port: '' };
    const after = host.slice(close + 1);
    if (after === '') return { name: host, port: fallback }; // Go keeps the brackets here
    if (!after.startsWith(':') || after.includes(':', 1)) return { name: '', port: '' };
    return { name: host.slice(1, close), port: after.slice(1) };
  }
  const colon = host.indexOf(':');
  if (colon === -1) return { name: host, port: fallback };
  if (host.includes(':', colon + 1)) return { name: '', port: '' };
  return { name: host.slice(0, colon), port: host.slice(colon + 1) };
}
