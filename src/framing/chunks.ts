/**
 * Chunk framing: each read becomes a message, cut into pieces of at most `maxChunk` bytes. This is
 * gwsocket's standard mode (reads of PIPE_BUF - 1 = 4095 bytes), kept for applications that rely on it.
 */
export const GWSOCKET_CHUNK = 4095;

export function splitChunks(data: Buffer, maxChunk: number): Buffer[] {
  if (data.length <= maxChunk) return [data];
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length; at += maxChunk) pieces.push(data.subarray(at, at + maxChunk));
  return pieces;
}
