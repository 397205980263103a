/**
 * Real peers for the socket-mode tests, started by the tests themselves: TCP echo, a line service,
 * UDP echo, a Unix stream echo, a refusing port, a stalling peer (accepts, never reads), a flooding
 * peer. Plus a `ws` client that records every message and its close.
 */
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';

export interface Peer {
  server: Server;
  port: number;
  /** Sockets accepted so far. */
  sockets: Socket[];
  close(): Promise<void>;
}

export async function listenPeer(
  onSocket: (socket: Socket) => void,
  where?: { path: string },
): Promise<Peer> {
  const sockets: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  await new Promise<void>((resolve) =>
    where ? server.listen(where.path, resolve) : server.listen(0, '127.0.0.1', resolve),
  );
  const port = where ? 0 : (server.address() as AddressInfo).port;
  return {
    server,
    port,
    sockets,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Echoes every byte; ends when the client ends. */
export const tcpEcho = (where?: { path: string }): Promise<Peer> =>
  listenPeer((socket) => {
    socket.pipe(socket);
  }, where);

/** Answers each `\n`-terminated line with `you said: LINE\n`. */
export const lineService = (): Promise<Peer> =>
  listenPeer((socket) => {
    let held = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      held += text;
      let nl: number;
      while ((nl = held.indexOf('\n')) !== -1) {
        socket.write(`you said: ${held.slice(0, nl)}\n`);
        held = held.slice(nl + 1);
      }
    });
    socket.on('end', () => socket.end());
  });

export interface UdpPeer {
  socket: DgramSocket;
  port: number;
  received: Buffer[];
  close(): void;
}

export async function udpEcho(): Promise<UdpPeer> {
  const socket = createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (msg, rinfo) => {
    received.push(msg);
    socket.send(msg, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, received, close: () => socket.close() };
}

/** A port with nothing listening on it. */
export async function refusingPort(): Promise<number> {
  const peer = await listenPeer(() => undefined);
  await peer.close();
  return peer.port;
}

/** Resident memory of a process, bytes (from /proc). */
export function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)/.exec(status);
  return kb ? Number(kb[1]) * 1024 : 0;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(check: () => boolean, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${label}: not within ${ms} ms`);
    await sleep(10);
  }
}

/** A `ws` client that records everything. */
export class Recorder {
  messages: { data: Buffer; binary: boolean }[] = [];
  bytes = 0;
  closed: { code: number; reason: string } | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, binary: boolean) => {
      this.messages.push({ data, binary });
      this.bytes += data.length;
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    ws.on('error', () => undefined);
  }

  static open(
    url: string,
    protocols?: string | string[],
    options?: WebSocket.ClientOptions,
  ): Promise<Recorder> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols, { perMessageDeflate: false, ...options });
      const recorder = new Recorder(ws);
      ws.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`unexpected response ${res.statusCode}`), { status: res.statusCode }));
        res.resume();
        ws.terminate();
      });
      ws.once('error', reject);
      ws.once('open', () => resolve(recorder));
    });
  }

  texts(): string[] {
    return this.messages.map((m) => m.data.toString('utf8'));
  }

  waitMessages(n: number, ms = 5000): Promise<void> {
    return until(() => this.messages.length >= n, ms, `${n} messages (have ${this.messages.length})`);
  }

  waitClose(ms = 5000): Promise<{ code: number; reason: string }> {
    return until(() => this.closed !== undefined, ms, 'close').then(() => this.closed!);
  }
}
