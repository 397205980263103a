/** Opens a peer of any scheme before the handshake is answered. */
import { connectDatagramPeer, UNIX_DGRAM_UNSUPPORTED } from './datagram-peer.js';
import type { HostAddress, PeerAddress } from './peer-address.js';
import { PeerError, type PeerOptions, type PeerSession } from './peer-session.js';
import { connectStreamPeer } from './stream-peer.js';

export function openPeer(address: PeerAddress, options: PeerOptions): Promise<PeerSession> {
  switch (address.scheme) {
    case 'tcp':
    case 'tcps':
    case 'unix':
      return connectStreamPeer(address, options);
    case 'udp':
      return connectDatagramPeer(address as HostAddress, options);
    case 'unix-dgram':
      return Promise.reject(new PeerError(UNIX_DGRAM_UNSUPPORTED, 502));
  }
}
