/** The echo endpoint: every message goes back to its sender; GET on the mount point shows the console page. */
import type { Endpoint } from '../../routes/endpoint.js';
import { consolePageRequest } from '../common/console-request.js';
import type { RecentRefusals } from '../common/refusals.js';

export function createEchoEndpoint(refusals?: RecentRefusals): Endpoint<unknown> {
  return {
    label: 'echo',
    upgrade: () => {},
    request: consolePageRequest('echo', refusals),
    handlers: {
      message: (conn, data, isBinary) => {
        if (!conn.send(data, isBinary)) conn.pause(); // backpressure: stop reading a client that does not read
      },
      drain: (conn) => conn.resume(),
    },
  };
}
