/** The sans-I/O protocol core: bytes in, events out; messages in, bytes out. */
export * from './errors.js';
export * from './frame.js';
export * from './utf8.js';
export * from './close.js';
export * from './http-head.js';
export * from './handshake.js';
export * from './deflate-params.js';
export * from './parser.js';
export * from './session.js';
