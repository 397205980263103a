/**
 * The pipe endpoint (gwsocket's model): one application joined to every client of the endpoint by a
 * pair of byte streams, FIFOs (created if missing, removed at stop) or stdin/stdout. See pipe-hub.ts.
 */
import type { Readable } from 'node:stream';
import { ensureFifo, FifoReader, FifoWriter, removeFifo, StreamSink, type OutputSink } from './fifo.js';
import { PipeHub, type HubLog } from './pipe-hub.js';
import type { CliConfig } from './pipe-options.js';
import { UsageError } from '../common/usage-error.js';
import { consolePageRequest } from '../common/console-request.js';
import type { RecentRefusals } from '../common/refusals.js';
import type { Endpoint } from '../../routes/endpoint.js';

export type PipeSettings = CliConfig['pipe'];

/** Pipe mode's streams: FIFOs (created if missing) or stdin/stdout. */
function openPipes(pipe: PipeSettings): {
  input: Readable | FifoReader;
  output: OutputSink;
  fifos: string[];
} {
  const fifos: string[] = [];
  const checked = (path: string): string => {
    try {
      ensureFifo(path);
    } catch (error) {
      for (const made of fifos) removeFifo(made); // e.g. --pipein made, --pipeout refused: leave nothing behind
      throw new UsageError((error as Error).message);
    }
    fifos.push(path);
    return path;
  };
  const input = pipe.stdin ? process.stdin : new FifoReader(checked(pipe.pipeIn));
  const output = pipe.stdout
    ? new StreamSink(process.stdout)
    : new FifoWriter(checked(pipe.pipeOut), pipe.outputQueue);
  return { input, output, fifos };
}

/** Describes the streams, e.g. `strict; in: /tmp/in.fifo, out: stdout`. */
export function describePipes(pipe: PipeSettings): string {
  return (
    `${pipe.strict ? 'strict' : `standard, ${pipe.framing}`}; ` +
    `in: ${pipe.stdin ? 'stdin' : pipe.pipeIn}, out: ${pipe.stdout ? 'stdout' : pipe.pipeOut}`
  );
}

/** Opens the pipes (creating FIFOs) and builds the endpoint; data flows from `start`. */
export function createPipeEndpoint(
  pipe: PipeSettings,
  maxMessageSize: number,
  log: HubLog & { info(line: string): void },
  refusals?: RecentRefusals,
): Endpoint<unknown> & { readonly hub: PipeHub } {
  const pipes = openPipes(pipe);
  const hub = new PipeHub(pipes.input, pipes.output, { ...pipe, maxMessageSize }, log);
  return {
    label: `pipes (${describePipes(pipe)})`,
    hub,
    upgrade: () => {},
    request: consolePageRequest('pipe', refusals),
    handlers: hub.handlers(),
    start: (clients) => hub.attach(clients),
    async stop() {
      log.info(`pipe statistics: ${JSON.stringify(hub.stats)}`);
      pipes.output.close();
      if (pipes.input !== process.stdin) pipes.input.destroy();
      for (const path of pipes.fifos) removeFifo(path);
    },
  };
}
