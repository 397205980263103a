/** Opens a peer of any scheme before the handshake is answered. */
import { connectDatagramPeer } from './datagram-peer.js';
import type { HostAddress, PathAddress, PeerAddress } from './peer-address.js';
import type { PeerOptions, PeerSession } from './peer-session.js';
import { connectStreamPeer } from './stream-peer.js';
import { connectUnixDgramPeer } from './unix-dgram-peer.js';

export function openPeer(address: PeerAddress, options: PeerOptions): Promise<PeerSession> {
  switch (address.scheme) {
    case 'tcp':
    case 'tcps':
    case 'unix':
      return connectStreamPeer(address, options);
    case 'udp':
      return connectDatagramPeer(address as HostAddress, options);
    case 'unix-dgram':
      return connectUnixDgramPeer(address as PathAddress, options);
  }
}
