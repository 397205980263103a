/**
 * The request a connection keeps for its whole life. Its headers are parsed again from the head's text
 * on first use: the text is kept anyway (the URL is a slice of it), and an idle connection whose headers
 * nobody reads then costs about 450 B less than with a parsed header map (npm run bench -s memory).
 */
import { parseHeaderText } from '../protocol/http-head.js';
import type { RequestInfo } from './connection.js';

type Headers = RequestInfo['headers'];

export class HeldRequest implements RequestInfo {
  /** The head's text until the headers are first read, then the parsed headers. */
  private source: string | Headers;

  constructor(
    readonly url: string,
    readonly path: string,
    readonly query: string,
    readonly remoteAddress: string,
    readonly remotePort: number,
    /** The head's text (parsed on demand), or headers already parsed elsewhere (node:http's). */
    source: string | Headers,
  ) {
    this.source = source;
  }

  get headers(): Headers {
    if (typeof this.source === 'string') this.source = parseHeaderText(this.source);
    return this.source;
  }
}
