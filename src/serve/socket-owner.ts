/**
 * Who is on the other end of a loopback connection: the uid owning the
 * client's socket, as the kernel's socket table records it (TCP has no
 * SO_PEERCRED). The client's socket is bound where the server's is connected.
 */
import type { Socket } from 'node:net';
import { nativeAddon } from '../native.js';

/** "::ffff:127.0.0.1" (an IPv4 client of a dual-stack listener) is the IPv4 address. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function loopbackSocketOwner(socket: Socket): number | null {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (remoteAddress === undefined || remotePort === undefined || localAddress === undefined || localPort === undefined) return null;
  try {
    return nativeAddon().tcpSocketOwner(plain(remoteAddress), remotePort, plain(localAddress), localPort);
  } catch {
    return null;
  }
}
