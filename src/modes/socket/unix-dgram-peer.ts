/**
 * Unix datagram peers (`unix-dgram://PATH`) through the optional native add-on `unix-dgram`: Node.js has
 * no AF_UNIX SOCK_DGRAM in core. The relay is DatagramPeer's (one message per datagram, counted drops,
 * 1014 when the peer is gone); this file adapts the add-on's socket to it.
 *
 * - Each client's socket is bound to a fresh path in the temp directory, so the peer can answer with
 *   sendto(); the path is removed when the socket closes. Its mode comes from the umask: a peer running
 *   as another user (not root) may be unable to answer.
 * - The socket is never connect()ed: the add-on aborts the process on a socket error (POLLERR), which a
 *   connected socket gets when its peer connects back to it and then disconnects with datagrams unread.
 *   Each datagram goes with sendto(PATH) instead; a throwaway socket's connect() checks PATH before the
 *   handshake (missing, nobody bound, not a datagram socket → 502).
 * - A full peer queue (EAGAIN) is retried every few ms, with the client held past 64 unsent datagrams:
 *   Unix datagrams are reliable, so unlike UDP nothing is dropped for it.
 * - A send finding the peer gone (ECONNREFUSED, ENOENT…) closes the client with 1014.
 * - A datagram from the peer of 64 KiB or more closes the client with 1014: the add-on reads into 64 KiB
 *   and cannot tell a cut datagram from a whole one. One too large to send is dropped and counted.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getSystemErrorName } from 'node:util';
import { DatagramPeer, UNIX_DGRAM_UNSUPPORTED, type DatagramSocket } from './datagram-peer.js';
import { formatPeer, type PathAddress } from './peer-address.js';
import { PeerError, type PeerOptions } from './peer-session.js';

/** The add-on's socket (its errors carry a negative errno as `code`). */
interface AddonSocket extends EventEmitter {
  bind(path: string): void;
  connect(path: string): void;
  send(data: Buffer, offset: number, length: number, path: string, callback: (error?: Error) => void): void;
  close(): void;
}
interface Addon {
  createSocket(type: 'unix_dgram'): AddonSocket;
}

/** sun_path holds 108 bytes with the NUL; the add-on silently cuts longer paths. */
const MAX_PATH = 107;
const RETRY_MS = 5;
/** The add-on's receive buffer. */
const RECEIVE_MAX = 65536;
/** Send errors that lose one datagram; any other (but EAGAIN) means the peer is gone. */
const DROPPED = new Set(['EMSGSIZE', 'ENOBUFS', 'ENOMEM']);

let addon: Addon | string | undefined;

/** Why unix-dgram:// peers cannot be opened here (the add-on is missing or unbuilt), or undefined. */
export function unixDgramMissing(): string | undefined {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)('unix-dgram') as Addon;
    } catch (error) {
      addon = `${UNIX_DGRAM_UNSUPPORTED} (${(error as Error).message.split('\n')[0]})`;
    }
  }
  return typeof addon === 'string' ? addon : undefined;
}

function errnoName(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number' && code < 0) return getSystemErrorName(code);
  return typeof code === 'string' ? code : (error as Error).message;
}

/** Runs an add-on call that reports failure by a synchronous 'error' event. */
function attempt(socket: AddonSocket, call: () => void): string | undefined {
  let why: string | undefined;
  const onError = (error: unknown): void => {
    why = errnoName(error);
  };
  socket.on('error', onError);
  call();
  socket.removeListener('error', onError);
  return why;
}

let seq = 0;

export async function connectUnixDgramPeer(
  address: PathAddress,
  options: PeerOptions,
): Promise<DatagramPeer> {
  const name = formatPeer(address);
  const missing = unixDgramMissing();
  if (missing) throw new PeerError(missing);
  const lib = addon as Addon;
  const fail = (why: string): PeerError => new PeerError(`cannot connect to ${name}: ${why}`);
  const own = join(tmpdir(), `wsbridge-${process.pid}-${++seq}-${randomBytes(4).toString('hex')}.sock`);
  for (const path of [address.path, own])
    if (Buffer.byteLength(path) > MAX_PATH) throw fail(`socket path over ${MAX_PATH} bytes: ${path}`);
  let probe: AddonSocket;
  try {
    probe = lib.createSocket('unix_dgram');
  } catch (error) {
    throw fail(errnoName(error));
  }
  const refused = attempt(probe, () => probe.connect(address.path));
  probe.close();
  if (refused) throw fail(refused);
  let socket: AddonSocket;
  try {
    socket = lib.createSocket('unix_dgram');
  } catch (error) {
    throw fail(errnoName(error));
  }
  const unbound = attempt(socket, () => socket.bind(own));
  if (unbound) {
    socket.close();
    throw fail(`bind ${own}: ${unbound}`);
  }
  return new DatagramPeer(
    new UnixDgramSocket(socket, address.path, own),
    options.framing.create(),
    name,
    options,
  );
}

/** The add-on's socket as a DatagramSocket: sends queued in order, EAGAIN retried, bind path removed. */
class UnixDgramSocket extends EventEmitter implements DatagramSocket {
  private queue: { data: Buffer; callback: (error: Error | null) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;
  private gone = false;
  private closed = false;

  constructor(
    private readonly socket: AddonSocket,
    private readonly peerPath: string,
    private readonly ownPath: string,
  ) {
    super();
    socket.on('message', (msg: Buffer) => {
      if (msg.length < RECEIVE_MAX) this.emit('message', msg);
      else this.fail(`datagram of ${RECEIVE_MAX} bytes or more (the unix-dgram add-on cuts it)`);
    });
    socket.on('error', (error: unknown) => this.fail(errnoName(error)));
  }

  send(data: Buffer, callback: (error: Error | null) => void): void {
    this.queue.push({ data, callback });
    if (!this.flushing && !this.timer) this.flush();
  }

  private flush(): void {
    this.timer = undefined;
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.gone && !this.closed) {
        const { data, callback } = this.queue[0];
        let why: string | undefined;
        this.socket.send(data, 0, data.length, this.peerPath, (error) => {
          if (error) why = errnoName(error);
        });
        if (why === 'EAGAIN' || why === 'EWOULDBLOCK') {
          this.timer = setTimeout(() => this.flush(), RETRY_MS);
          return;
        }
        if (why !== undefined && !DROPPED.has(why)) {
          // The session ends on 'error'; what is still queued goes with it.
          this.fail(why);
          return;
        }
        this.queue.shift();
        callback(why === undefined ? null : Object.assign(new Error(why), { code: why }));
      }
    } finally {
      this.flushing = false;
    }
  }

  private fail(why: string): void {
    if (this.gone || this.closed) return;
    this.gone = true;
    process.nextTick(() => this.emit('error', Object.assign(new Error(why), { code: why })));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.queue = [];
    try {
      this.socket.close();
    } finally {
      try {
        unlinkSync(this.ownPath);
      } catch {
        // already gone
      }
      process.nextTick(() => this.emit('close'));
    }
  }
}
