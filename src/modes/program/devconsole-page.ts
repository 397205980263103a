/**
 * The `--devconsole` page: the shared console page (common/console-page.ts), served for any plain HTTP
 * request; it connects to the WebSocket at the same URL (path and query kept). No automatic reconnect:
 * each connection runs the program once.
 */
import { consolePage } from '../common/console-page.js';

export function devconsolePage(label: string): string {
  return consolePage({ title: 'wsbridge dev console', mode: `program mode: ${label}`, autoReconnect: false });
}
