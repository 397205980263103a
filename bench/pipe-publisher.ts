/**
 * The pipe scenario's publisher: `node dist/bench/pipe-publisher.js FIFO`, forked by bench/pipe.ts with an
 * IPC channel. It opens the input FIFO for writing (non-blocking, wrapped in a `net.Socket`, so a full
 * pipe queues here instead of blocking), then on each `run` command writes `count` 64-byte lines at
 * `rate` per second from `startAt` (µs, monotonic), each stamped with the time it was handed to the pipe.
 * Lines that fall due together (timer granularity is ~1 ms) go out in one write. Exits with its parent.
 */
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { encodeLine, LINE_SIZE, nowUs } from './pipe-wire.js';

export type PublisherCommand =
  { cmd: 'run'; rate: number; count: number; firstSeq: number; startAt: number } | { cmd: 'exit' };

export type PublisherReply =
  | { type: 'ready' }
  | {
      type: 'done';
      written: number;
      /** Largest delay of a line's write behind its schedule, µs. */
      maxLagUs: number;
      /** Most bytes queued here because the pipe was full. */
      maxQueued: number;
    }
  | { type: 'error'; message: string };

const path = process.argv[2];
if (!path || !process.send) {
  console.error('usage (forked by bench/pipe.js): pipe-publisher.js FIFO');
  process.exit(2);
}

function reply(message: PublisherReply): void {
  process.send!(message);
}

process.on('disconnect', () => process.exit(0));

async function openFifo(): Promise<Socket> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      return new Socket({ fd, readable: false, writable: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // ENOENT: the server has not made the FIFO yet; ENXIO: no reader yet.
      if ((code !== 'ENOENT' && code !== 'ENXIO') || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

const socket = await openFifo();
socket.on('error', (error) => {
  reply({ type: 'error', message: `publisher: ${error.message}` });
  process.exit(1);
});

function run(rate: number, count: number, firstSeq: number, startAt: number): void {
  let sent = 0;
  let maxLagUs = 0;
  let maxQueued = 0;
  const intervalUs = 1e6 / rate;
  const tick = (): void => {
    const now = nowUs();
    if (now >= startAt) {
      const due = Math.min(count, Math.floor((now - startAt) / intervalUs) + 1);
      if (due > sent) {
        const k = due - sent;
        const buf = Buffer.allocUnsafe(k * LINE_SIZE);
        for (let j = 0; j < k; j++) encodeLine(buf, j * LINE_SIZE, firstSeq + sent + j, now);
        maxLagUs = Math.max(maxLagUs, now - (startAt + sent * intervalUs));
        socket.write(buf);
        maxQueued = Math.max(maxQueued, socket.writableLength);
        sent = due;
      }
    }
    if (sent >= count) {
      reply({ type: 'done', written: sent, maxLagUs, maxQueued });
      return;
    }
    const nextAt = startAt + sent * intervalUs;
    setTimeout(tick, Math.max(0, (nextAt - nowUs()) / 1000));
  };
  tick();
}

process.on('message', (message: PublisherCommand) => {
  if (message.cmd === 'run') run(message.rate, message.count, message.firstSeq, message.startAt);
  else if (message.cmd === 'exit') socket.end(() => process.exit(0));
});

reply({ type: 'ready' });
