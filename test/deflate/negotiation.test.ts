/**
 * permessage-deflate negotiation (RFC 7692 §5, §7.1): the pure functions in both roles, then the same
 * rules over real sockets — what our server answers to hand-written offers (and whether compression is
 * really on afterwards), and which answers our client accepts from a fake server.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptDeflateOffer,
  checkDeflateResponse,
  deflateOffer,
  parseExtensions,
  type DeflateOptions,
  type DeflateParams,
} from '../../src/protocol/deflate-params.js';
import { HandshakeError } from '../../src/protocol/errors.js';
import { connect } from '../../src/index.js';
import { startServer, stopAll } from '../helpers/server-harness.js';
import {
  closeRawClients,
  compressibleText,
  DeflateRawClient,
  fakeDeflateServer,
  Op,
  parseDeflateHeader,
  RSV1,
} from '../helpers/deflate-harness.js';

afterEach(async () => {
  closeRawClients();
  await stopAll();
});

const DEFAULT_PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function accept(header: string, options?: DeflateOptions): { params: DeflateParams; response: string } {
  const result = acceptDeflateOffer(header, options);
  assert.ok(result, `offer '${header}' should be accepted`);
  return result;
}

function rejectsResponse(header: string, options: DeflateOptions, pattern: RegExp): void {
  assert.throws(
    () => checkDeflateResponse(header, options),
    (error: unknown) => error instanceof HandshakeError && pattern.test(error.message),
    `response '${header}' must fail the handshake`,
  );
}

describe('parseExtensions', () => {
  it('parses names, valueless and valued parameters, quoted values and several offers', () => {
    assert.deepEqual(
      parseExtensions(
        'permessage-deflate; client_max_window_bits; server_max_window_bits="10" , x-foo;a=1,permessage-deflate',
      ),
      [
        {
          name: 'permessage-deflate',
          params: [
            ['client_max_window_bits', true],
            ['server_max_window_bits', '10'],
          ],
        },
        { name: 'x-foo', params: [['a', '1']] },
        { name: 'permessage-deflate', params: [] },
      ],
    );
    assert.deepEqual(parseExtensions(''), []);
    assert.deepEqual(parseExtensions('   '), []);
  });

  it('throws a 400 HandshakeError on malformed syntax', () => {
    for (const bad of [
      'permessage deflate',
      'permessage-deflate; =1',
      'permessage-deflate; a="1',
      'permessage-deflate; a=',
      'permessage-deflate;; x',
      ',',
      'permessage-deflate; a=b c',
    ]) {
      assert.throws(
        () => parseExtensions(bad),
        (error: unknown) => error instanceof HandshakeError && error.status === 400,
        bad,
      );
    }
  });
});

describe('acceptDeflateOffer (server role)', () => {
  it('accepts a bare offer with all defaults and answers a bare response', () => {
    assert.deepEqual(accept('permessage-deflate'), {
      params: DEFAULT_PARAMS,
      response: 'permessage-deflate',
    });
  });

  it('server_no_context_takeover and client_no_context_takeover requested by the client are echoed', () => {
    const r = accept('permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    assert.equal(r.response, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    assert.deepEqual(r.params, {
      ...DEFAULT_PARAMS,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    });
  });

  it('no_context_takeover imposed by the server options appears in the response although not offered', () => {
    const r = accept('permessage-deflate', { serverNoContextTakeover: true, clientNoContextTakeover: true });
    const params = parseDeflateHeader(r.response);
    assert.equal(params.get('server_no_context_takeover'), true);
    assert.equal(params.get('client_no_context_takeover'), true);
    assert.equal(r.params.serverNoContextTakeover, true);
    assert.equal(r.params.clientNoContextTakeover, true);
  });

  it('server_max_window_bits with a value is honoured and answered (smaller of offer and option)', () => {
    let r = accept('permessage-deflate; server_max_window_bits=10');
    assert.equal(r.response, 'permessage-deflate; server_max_window_bits=10');
    assert.equal(r.params.serverMaxWindowBits, 10);
    r = accept('permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 9 });
    assert.equal(r.response, 'permessage-deflate; server_max_window_bits=9');
    assert.equal(r.params.serverMaxWindowBits, 9);
    // Offer 15 explicitly: the response must still carry the parameter (it was offered).
    r = accept('permessage-deflate; server_max_window_bits=15');
    assert.equal(r.response, 'permessage-deflate; server_max_window_bits=15');
    // Not offered, but the server wants a smaller window: it may say so.
    r = accept('permessage-deflate', { serverMaxWindowBits: 11 });
    assert.equal(r.response, 'permessage-deflate; server_max_window_bits=11');
    assert.equal(r.params.serverMaxWindowBits, 11);
  });

  it('server_max_window_bits without a value is invalid: the offer is declined', () => {
    assert.equal(acceptDeflateOffer('permessage-deflate; server_max_window_bits'), undefined);
  });

  it('server_max_window_bits=8 is declined (zlib cannot deflate with a 256-byte window)', () => {
    assert.equal(acceptDeflateOffer('permessage-deflate; server_max_window_bits=8'), undefined);
    const r = accept(
      'permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9',
    );
    assert.equal(r.params.serverMaxWindowBits, 9);
  });

  it('client_max_window_bits without a value: the server may answer a value, or nothing for 15', () => {
    let r = accept('permessage-deflate; client_max_window_bits');
    assert.equal(r.response, 'permessage-deflate');
    assert.equal(r.params.clientMaxWindowBits, 15);
    r = accept('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 });
    assert.equal(r.response, 'permessage-deflate; client_max_window_bits=10');
    assert.equal(r.params.clientMaxWindowBits, 10);
  });

  it('client_max_window_bits with a value: answered with the smaller of offer and option', () => {
    let r = accept('permessage-deflate; client_max_window_bits=12');
    assert.equal(r.response, 'permessage-deflate; client_max_window_bits=12');
    assert.equal(r.params.clientMaxWindowBits, 12);
    r = accept('permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 9 });
    assert.equal(r.response, 'permessage-deflate; client_max_window_bits=9');
    r = accept('permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 12 });
    assert.equal(r.response, 'permessage-deflate; client_max_window_bits=9');
    assert.equal(r.params.clientMaxWindowBits, 9);
  });

  it('never answers client_max_window_bits when the offer lacked it (the client could not honour it)', () => {
    const r = accept('permessage-deflate', { clientMaxWindowBits: 9 });
    assert.equal(r.response, 'permessage-deflate');
    assert.equal(r.params.clientMaxWindowBits, 15, 'the server inflates with the full window then');
  });

  it('several offers: the first acceptable one wins', () => {
    const r = accept(
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits, permessage-deflate; server_no_context_takeover',
    );
    assert.equal(r.params.serverMaxWindowBits, 10);
    assert.equal(r.params.serverNoContextTakeover, false);
    const other = accept('x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover');
    assert.equal(other.response, 'permessage-deflate; client_no_context_takeover');
  });

  it('a bad first offer is declined and the second accepted', () => {
    for (const bad of [
      'permessage-deflate; foo',
      'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; client_no_context_takeover=yes',
    ]) {
      const r = accept(`${bad}, permessage-deflate; server_no_context_takeover`);
      assert.equal(r.response, 'permessage-deflate; server_no_context_takeover', bad);
      assert.equal(r.params.serverNoContextTakeover, true);
      assert.equal(r.params.serverMaxWindowBits, 15);
    }
  });

  it('unknown, duplicate and valued-flag parameters decline the offer (RFC 7692 §5)', () => {
    for (const bad of [
      'permessage-deflate; foo',
      'permessage-deflate; foo=bar',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
      'permessage-deflate; client_max_window_bits; client_max_window_bits=10',
      'permessage-deflate; server_max_window_bits=10; server_max_window_bits=11',
      'permessage-deflate; server_no_context_takeover=1',
      'permessage-deflate; client_no_context_takeover="x"',
    ])
      assert.equal(acceptDeflateOffer(bad), undefined, bad);
  });

  it('invalid window values decline the offer; a quoted valid value is accepted', () => {
    for (const value of ['7', '16', '0', '-9', '010', 'ten', '9.5', '1e1', '"16"'])
      for (const key of ['server_max_window_bits', 'client_max_window_bits'])
        assert.equal(acceptDeflateOffer(`permessage-deflate; ${key}=${value}`), undefined, `${key}=${value}`);
    assert.equal(accept('permessage-deflate; server_max_window_bits="11"').params.serverMaxWindowBits, 11);
  });

  it('a malformed header or no permessage-deflate offer yields no extension (no throw)', () => {
    assert.equal(acceptDeflateOffer('permessage-deflate; a="1'), undefined);
    assert.equal(acceptDeflateOffer('x-webkit-deflate-frame'), undefined);
    assert.equal(acceptDeflateOffer(''), undefined);
  });

  it('the response never claims more than the offer allowed, and the client reads it back identically', () => {
    // Every combination of client wishes and server policy: the answer must pass the client's own
    // checks, and both sides must end up with the same parameters.
    const bitsChoices = [undefined, 9, 12, 15];
    let combos = 0;
    for (const cNoCtxS of [false, true])
      for (const cNoCtxC of [false, true])
        for (const cS of bitsChoices)
          for (const cC of bitsChoices)
            for (const sNoCtxS of [false, true])
              for (const sS of bitsChoices)
                for (const sC of bitsChoices) {
                  const client: DeflateOptions = {
                    serverNoContextTakeover: cNoCtxS,
                    clientNoContextTakeover: cNoCtxC,
                    serverMaxWindowBits: cS,
                    clientMaxWindowBits: cC,
                  };
                  const server: DeflateOptions = {
                    serverNoContextTakeover: sNoCtxS,
                    serverMaxWindowBits: sS,
                    clientMaxWindowBits: sC,
                  };
                  const offer = deflateOffer(client);
                  const r = accept(offer, server);
                  const what = `offer '${offer}', server ${JSON.stringify(server)}: '${r.response}'`;
                  const params = parseDeflateHeader(r.response);
                  const offered = parseDeflateHeader(offer);
                  if (params.has('client_max_window_bits')) {
                    assert.ok(offered.has('client_max_window_bits'), what);
                    const got = Number(params.get('client_max_window_bits'));
                    const limit = offered.get('client_max_window_bits');
                    assert.ok(got <= (limit === true ? 15 : Number(limit)), what);
                  }
                  if (offered.has('server_max_window_bits')) {
                    assert.ok(params.has('server_max_window_bits'), what);
                    assert.ok(
                      Number(params.get('server_max_window_bits')) <=
                        Number(offered.get('server_max_window_bits')),
                      what,
                    );
                  }
                  if (offered.has('server_no_context_takeover'))
                    assert.ok(params.has('server_no_context_takeover'), what);
                  assert.ok(
                    r.params.serverMaxWindowBits <= (sS ?? 15) && r.params.serverMaxWindowBits <= (cS ?? 15),
                  );
                  assert.deepEqual(checkDeflateResponse(r.response, client), r.params, what);
                  combos++;
                }
    assert.equal(combos, 2 * 2 * 4 * 4 * 2 * 4 * 4);
  });
});

describe('deflateOffer and checkDeflateResponse (client role)', () => {
  it('the default offer asks for nothing but allows the server to limit our window', () => {
    assert.equal(deflateOffer(), 'permessage-deflate; client_max_window_bits');
    assert.equal(
      deflateOffer({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 11,
      }),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11',
    );
  });

  it('accepts valid answers and derives the parameters', () => {
    assert.equal(checkDeflateResponse(''), undefined, 'no extension: no compression');
    assert.deepEqual(checkDeflateResponse('permessage-deflate'), DEFAULT_PARAMS);
    assert.deepEqual(
      checkDeflateResponse(
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10',
      ),
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 10,
      },
    );
    assert.deepEqual(
      checkDeflateResponse('permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 9 }),
      {
        ...DEFAULT_PARAMS,
        clientMaxWindowBits: 9,
      },
    );
    // Our own wish for client_no_context_takeover holds even if the server does not repeat it.
    assert.equal(
      checkDeflateResponse('permessage-deflate', { clientNoContextTakeover: true })?.clientNoContextTakeover,
      true,
    );
  });

  it('fails on unknown, duplicate or malformed parameters', () => {
    rejectsResponse('permessage-deflate; foo', {}, /unknown parameter foo/);
    rejectsResponse(
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      {},
      /duplicate/,
    );
    rejectsResponse(
      'permessage-deflate; server_max_window_bits=9; server_max_window_bits=9',
      {},
      /duplicate/,
    );
    rejectsResponse('permessage-deflate; server_max_window_bits=16', {}, /server_max_window_bits/);
    rejectsResponse('permessage-deflate; server_max_window_bits', {}, /server_max_window_bits/);
    rejectsResponse('permessage-deflate; client_max_window_bits=7', {}, /client_max_window_bits/);
    rejectsResponse('permessage-deflate; client_no_context_takeover=1', {}, /takes no value/);
  });

  it('fails on anything the offer did not allow', () => {
    rejectsResponse('x-webkit-deflate-frame', {}, /not offered/);
    rejectsResponse('permessage-deflate, permessage-deflate', {}, /not offered/);
    rejectsResponse('permessage-deflate; client_max_window_bits', {}, /needs a value/);
    rejectsResponse('permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }, /above/);
    rejectsResponse('permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }, /above/);
    rejectsResponse('permessage-deflate', { serverNoContextTakeover: true }, /server_no_context_takeover/);
  });
});

// ------------------------------------------------------------------------------------------- over sockets

const big = compressibleText(8192, 7);

/** Checks that compression really runs (both directions) on a raw client that negotiated it. */
async function assertCompressedEcho(client: DeflateRawClient): Promise<void> {
  await client.sendCompressed(big);
  const echo = await client.readMessage();
  assert.equal(echo.compressed, true, 'the echo of a large message comes back compressed (RSV1)');
  assert.equal(echo.data.toString(), big);
  assert.ok(echo.wireSize < big.length / 2, `compressed echo is small (${echo.wireSize} bytes)`);
}

/** Checks that a connection without compression works, sends nothing compressed and refuses RSV1. */
async function assertPlainConnection(client: DeflateRawClient): Promise<void> {
  assert.equal(client.extensions, '', 'no Sec-WebSocket-Extensions in the response');
  client.sendPlain(big);
  const echo = await client.readMessage();
  assert.equal(echo.compressed, false);
  assert.equal(echo.data.toString(), big);
  client.frame(Op.Text, Buffer.from([0x4a, 0x04, 0x00]), { rsv: RSV1 }); // "a" compressed
  assert.equal(await client.readCloseCode(), 1002);
}

describe('negotiation over sockets: our server', () => {
  const cases: { offer: string; server?: object; expect: Record<string, string | true> }[] = [
    { offer: 'permessage-deflate', expect: {} },
    { offer: 'permessage-deflate; server_no_context_takeover', expect: { server_no_context_takeover: true } },
    { offer: 'permessage-deflate; client_no_context_takeover', expect: { client_no_context_takeover: true } },
    { offer: 'permessage-deflate; server_max_window_bits=9', expect: { server_max_window_bits: '9' } },
    { offer: 'permessage-deflate; server_max_window_bits=12', expect: { server_max_window_bits: '12' } },
    { offer: 'permessage-deflate; client_max_window_bits', expect: {} },
    {
      offer: 'permessage-deflate; client_max_window_bits',
      server: { clientMaxWindowBits: 9 },
      expect: { client_max_window_bits: '9' },
    },
    { offer: 'permessage-deflate; client_max_window_bits=10', expect: { client_max_window_bits: '10' } },
    { offer: 'permessage-deflate', server: { clientMaxWindowBits: 9 }, expect: {} },
    {
      offer: 'permessage-deflate',
      server: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10 },
      expect: {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: '10',
      },
    },
    {
      offer: 'permessage-deflate; foo, permessage-deflate; server_max_window_bits=11',
      expect: { server_max_window_bits: '11' },
    },
    {
      offer: 'permessage-deflate; server_max_window_bits=10, permessage-deflate',
      expect: { server_max_window_bits: '10' },
    },
  ];
  for (const c of cases)
    it(`offer '${c.offer}'${c.server ? ` with ${JSON.stringify(c.server)}` : ''} → ${JSON.stringify(c.expect)}`, async () => {
      const h = await startServer({ perMessageDeflate: { threshold: 64, ...c.server } });
      const client = await DeflateRawClient.open(h.target, c.offer);
      assert.deepEqual(Object.fromEntries(client.params!), c.expect, `response '${client.extensions}'`);
      // The raw client inflates with exactly the negotiated window and compresses with exactly the one
      // it was given: if either side did not honour the parameters, these fail.
      await assertCompressedEcho(client);
      await assertCompressedEcho(client);
      const conn = [...h.server.clients()][0];
      const params = conn.deflate!.params;
      assert.equal(params.serverNoContextTakeover, 'server_no_context_takeover' in c.expect);
      assert.equal(params.clientNoContextTakeover, 'client_no_context_takeover' in c.expect);
      assert.equal(params.serverMaxWindowBits, Number(c.expect.server_max_window_bits ?? 15));
      assert.equal(params.clientMaxWindowBits, Number(c.expect.client_max_window_bits ?? 15));
    });

  for (const offer of [
    'permessage-deflate; foo',
    'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate; client_max_window_bits=4',
    'permessage-deflate; server_max_window_bits',
    'permessage-deflate; server_max_window_bits=8',
    'permessage-deflate; a="unterminated',
    'x-webkit-deflate-frame',
  ])
    it(`declines '${offer}' and the connection proceeds without compression`, async () => {
      const h = await startServer({ perMessageDeflate: true });
      const client = await DeflateRawClient.open(h.target, offer);
      await assertPlainConnection(client);
    });

  it('offers spread over two Sec-WebSocket-Extensions header lines are read as one list', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const client = await DeflateRawClient.open(
      h.target,
      'permessage-deflate; foo\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover',
    );
    assert.equal(client.extensions, 'permessage-deflate; server_no_context_takeover');
    await assertCompressedEcho(client);
  });

  it('perMessageDeflate: false declines every offer', async () => {
    const h = await startServer({ perMessageDeflate: false });
    await assertPlainConnection(await DeflateRawClient.open(h.target, 'permessage-deflate'));
  });

  it('a client that offers nothing gets no compression from a deflate server', async () => {
    const h = await startServer({ perMessageDeflate: true });
    await assertPlainConnection(await DeflateRawClient.open(h.target, undefined));
  });

  it('our client and server agree on the parameters for option combinations from either side', async () => {
    const combos: {
      client: DeflateOptions | boolean;
      server: DeflateOptions | boolean;
      expect?: DeflateParams;
    }[] = [
      { client: true, server: true, expect: DEFAULT_PARAMS },
      { client: false, server: true },
      { client: true, server: false },
      {
        client: { serverNoContextTakeover: true, clientMaxWindowBits: 10 },
        server: { serverMaxWindowBits: 12 },
        expect: {
          ...DEFAULT_PARAMS,
          serverNoContextTakeover: true,
          serverMaxWindowBits: 12,
          clientMaxWindowBits: 10,
        },
      },
      {
        client: { serverMaxWindowBits: 9, clientNoContextTakeover: true },
        server: { clientMaxWindowBits: 11, serverNoContextTakeover: true },
        expect: {
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 9,
          clientMaxWindowBits: 11,
        },
      },
    ];
    for (const combo of combos) {
      const h = await startServer({ perMessageDeflate: combo.server });
      const c = await h.client('/', { perMessageDeflate: combo.client });
      const serverConn = (await h.events.next('open')).conn;
      assert.deepEqual(c.conn.deflate?.params, combo.expect, JSON.stringify(combo));
      assert.deepEqual(serverConn.deflate?.params, combo.expect, JSON.stringify(combo));
      const text = compressibleText(50_000, 3);
      c.conn.send(text);
      assert.equal(await c.events.nextText(), text);
      await c.close();
      await h.stop();
    }
  });
});

describe('negotiation over sockets: our client', () => {
  const servers: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function answerWith(extensions: string | undefined): Promise<{ url: string; offers: string[] }> {
    const fake = await fakeDeflateServer(extensions);
    servers.push(fake);
    return fake;
  }

  it('offers permessage-deflate by default, and the requested parameters when asked', async () => {
    const fake = await answerWith(undefined);
    const plain = await connect(fake.url, { handshakeTimeout: 2000 });
    assert.equal(plain.deflate, undefined, 'no answer: no compression');
    plain.terminate();
    const tuned = await connect(fake.url, {
      handshakeTimeout: 2000,
      perMessageDeflate: { serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 },
    });
    tuned.terminate();
    const off = await connect(fake.url, { handshakeTimeout: 2000, perMessageDeflate: false });
    off.terminate();
    assert.deepEqual(fake.offers, [
      'permessage-deflate; client_max_window_bits',
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
      '',
    ]);
  });

  for (const [answer, options] of [
    ['permessage-deflate; server_max_window_bits=10; client_max_window_bits=9', {}],
    ['permessage-deflate; server_no_context_takeover; client_no_context_takeover', {}],
    ['permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: 10 }],
    ['permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: true }],
  ] as [string, DeflateOptions][])
    it(`accepts '${answer}' to ${JSON.stringify(options)}`, async () => {
      const fake = await answerWith(answer);
      const conn = await connect(fake.url, { handshakeTimeout: 2000, perMessageDeflate: options });
      assert.ok(conn.deflate, 'compression is on');
      assert.deepEqual(conn.deflate.params, checkDeflateResponse(answer, options));
      conn.terminate();
    });

  for (const [answer, options, why] of [
    ['permessage-deflate; foo', {}, /unknown parameter/],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}, /duplicate/],
    ['permessage-deflate; client_max_window_bits', {}, /needs a value/],
    ['permessage-deflate; client_max_window_bits=16', {}, /client_max_window_bits/],
    ['permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }, /above/],
    ['permessage-deflate; client_max_window_bits=11', { clientMaxWindowBits: 10 }, /above/],
    ['permessage-deflate', { serverNoContextTakeover: true }, /server_no_context_takeover/],
    ['x-webkit-deflate-frame', {}, /not offered/],
    ['permessage-deflate, permessage-deflate', {}, /not offered/],
    ['permessage-deflate; a="1', {}, /unterminated|malformed/],
  ] as [string, DeflateOptions, RegExp][])
    it(`fails the handshake on '${answer}' to ${JSON.stringify(options)}`, async () => {
      const fake = await answerWith(answer);
      await assert.rejects(
        connect(fake.url, { handshakeTimeout: 2000, perMessageDeflate: options }),
        (error: Error) => {
          assert.ok(error instanceof HandshakeError, String(error));
          assert.match(error.message, why);
          return true;
        },
      );
    });

  it('fails the handshake on two permessage-deflate answers on separate header lines', async () => {
    const fake = await answerWith('permessage-deflate\r\nSec-WebSocket-Extensions: permessage-deflate');
    await assert.rejects(
      connect(fake.url, { handshakeTimeout: 2000 }),
      (error: Error) => error instanceof HandshakeError && /not offered/.test(error.message),
    );
  });

  it('fails the handshake on any extension answer when it offered none', async () => {
    const fake = await answerWith('permessage-deflate');
    await assert.rejects(
      connect(fake.url, { handshakeTimeout: 2000, perMessageDeflate: false }),
      (error: Error) => error instanceof HandshakeError && /not offered/.test(error.message),
    );
  });
});
