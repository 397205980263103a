/** Client addresses as people read them: `::ffff:127.0.0.1` (an IPv4 client of a dual-stack socket) → `127.0.0.1`. */
export function plainClientAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
