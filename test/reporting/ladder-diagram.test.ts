import { test } from 'node:test';
import assert from 'node:assert/strict';
import { looksFailed, orderActors, renderLadder, type LadderArrow } from '../../reporting/ladder-diagram';

function arrow(from: string, to: string, label: string, ms = 0, failed?: boolean): LadderArrow {
  return { at: new Date(Date.UTC(2024, 0, 1, 12, 0, 0, ms)).toISOString(), from, to, label, failed };
}

/**
 * A small well-formedness check (no XML parser among the dependencies): tags balance, attribute
 * values are quoted without raw `<`, and text holds no raw `<` or bare `&`.
 */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < svg.length) {
    const lt = svg.indexOf('<', i);
    const text = svg.slice(i, lt < 0 ? svg.length : lt);
    assert.doesNotMatch(text, /&(?!(amp|lt|gt|quot|#39);)/, `bare & in text near ${JSON.stringify(text)}`);
    assert.doesNotMatch(text, />/, `raw > in text near ${JSON.stringify(text)}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const match = tag.exec(svg);
    assert.ok(match, `malformed tag at ${JSON.stringify(svg.slice(lt, lt + 60))}`);
    const [whole, closing, name, , selfClosing] = match;
    if (closing) assert.equal(stack.pop(), name, `unbalanced </${name}>`);
    else if (!selfClosing) stack.push(name);
    i = lt + whole.length;
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

test('actors: clients left, platform roles middle, networks and receivers right, ties by first appearance', () => {
  const order = orderActors([
    arrow('platform SIP', 'PSTN +15550100', 'INVITE sip:+15550100@pstn'),
    arrow("Alice's phone", 'platform SIP', 'INVITE sip:+15550100@platform'),
    arrow('platform webhooks', 'webhook receiver', 'POST /hooks → 200 ok'),
    arrow('Parcelly', 'platform API', 'POST /v1/messages → 202 (4 ms)'),
    arrow('platform SMSC', 'carrier SMSC', 'submit_sm +447700900123 "Hi"'),
    arrow('Parcelly SMPP client', 'platform SMSC', 'bind_transceiver parcelly'),
    arrow("Bob's phone", "Bob's phone", 'sip.js warn [x]: y'),
  ]);
  assert.deepEqual(order, [
    "Alice's phone",
    'Parcelly',
    'Parcelly SMPP client',
    "Bob's phone",
    'platform SIP',
    'platform webhooks',
    'platform API',
    'platform SMSC',
    'PSTN +15550100',
    'webhook receiver',
    'carrier SMSC',
  ]);
});

test('every text is XML-escaped and Unicode survives', () => {
  const label = `INVITE <sip:a@b> "quoted" & 'single' مرحبا 👋🏽`;
  const svg = renderLadder({
    title: 'Call <to> Bob & "Carol"',
    arrows: [
      arrow("Alice's <phone>", 'platform SIP', label),
      arrow('platform SIP', 'PSTN', '486 Busy Here', 120),
    ],
    missing: ['BYE <sip:bob@x> & "ACK"'],
  });
  assert.match(
    svg,
    /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" [^>]*width="\d+" height="\d+" viewBox="0 0 \d+ \d+"/,
  );
  assert.ok(!svg.includes('<sip:'), 'raw SIP URI in output');
  assert.ok(!svg.includes('<phone>') && !svg.includes('<to>'));
  assert.ok(
    svg.includes('&lt;sip:a@b&gt; &quot;quoted&quot; &amp; &#39;single&#39; مرحبا 👋🏽'),
    'full label in tooltip',
  );
  assert.ok(svg.includes('Alice&#39;s &lt;phone&gt;'));
  assert.ok(svg.includes('expected but never came: BYE &lt;sip:bob@x&gt; &amp; &quot;ACK&quot;'));
  assert.ok(svg.includes('+0.000 s') && svg.includes('+0.120 s'));
  assertWellFormed(svg);
});

test('control characters and lone surrogates cannot break the document', () => {
  const svg = renderLadder({
    title: 't',
    // excerpt() slices UTF-16, so a summary may end in half an emoji.
    arrows: [arrow('a', 'platform SIP', `deliver_sm "x\u0001y\r\nz ${'👋'.slice(0, 1)}"`)],
  });
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(svg, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  assert.ok(svg.includes('\ufffd'));
  assert.doesNotMatch(svg, /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
  assertWellFormed(svg);
});

test('long labels and actor names are cut with an ellipsis, the full text kept in a tooltip', () => {
  const long = `submit_sm +447700900123 "${'x'.repeat(300)}"`;
  const actor = 'A very long customer name that will not fit in one header box at all';
  const svg = renderLadder({ title: 't', arrows: [arrow(actor, 'platform SMSC', long)] });
  assert.ok(svg.includes(`<title>${long.replace(/"/g, '&quot;')}</title>`));
  assert.match(svg, /class="label"[^>]*>submit_sm \+447700900123 &quot;x+…<\/text>/);
  assert.ok(svg.includes(`<title>${actor}</title>`));
  assert.match(svg, /…<\/text>/);
  assertWellFormed(svg);
});

test('failed arrows get the failed class, missing messages a red dashed note', () => {
  const svg = renderLadder({
    title: 't',
    arrows: [
      arrow("Alice's phone", 'platform SIP', 'INVITE sip:bob@x'),
      arrow('platform SIP', "Alice's phone", '486 Busy Here [1 INVITE]', 40, true),
      arrow('carrier SMSC', 'carrier SMSC', 'VIOLATION: no submit_sm_resp', 50, true),
    ],
    missing: ['deliver_sm receipt for id=42', 'BYE'],
  });
  assert.equal(svg.match(/<g class="arrow failed">/g)?.length, 2);
  assert.equal(svg.match(/<g class="arrow">/g)?.length, 1);
  assert.match(svg, /<style>[\s\S]*\.failed[\s\S]*<\/style>/);
  assert.equal(svg.match(/<g class="missing">/g)?.length, 2);
  assert.ok(svg.includes('expected but never came: deliver_sm receipt for id=42'));
  assert.match(svg, /\.missing rect \{[^}]*stroke-dasharray/);
  assertWellFormed(svg);
});

test('at most 400 arrows are drawn, then a note says how many were left out', () => {
  const arrows = Array.from({ length: 1000 }, (_, i) =>
    arrow('a', 'platform API', `GET /v1/x/${i} → 200`, i),
  );
  const svg = renderLadder({ title: 'soak', arrows });
  assert.equal(svg.match(/<g class="arrow/g)?.length, 400);
  assert.ok(svg.includes('GET /v1/x/399 → 200') && !svg.includes('GET /v1/x/400 '));
  assert.ok(svg.includes('… 600 more not drawn'));
  const height = Number(/height="(\d+)"/.exec(svg)?.[1]);
  assert.ok(height < 400 * 40, `height ${height}`);
  assertWellFormed(svg);
});

test('deterministic, sized for a browser, and valid with nothing to draw', () => {
  const diagram = {
    title: 'two actors',
    arrows: [arrow('Parcelly', 'platform API', 'POST /v1/messages → 202 (3 ms)'), arrow('x', 'x', 'note', 5)],
  };
  assert.equal(renderLadder(diagram), renderLadder(structuredClone(diagram)));
  const width = Number(/width="(\d+)"/.exec(renderLadder(diagram))?.[1]);
  assert.ok(width >= 600, `width ${width}`);
  const empty = renderLadder({ title: 'nothing', arrows: [], missing: ['INVITE'] });
  assert.ok(empty.includes('no traffic recorded') && empty.includes('expected but never came: INVITE'));
  assertWellFormed(empty);
});

test('looksFailed reads the SIP summaries the drivers record', () => {
  // Probes record raw status lines, summarizeSip drops the "SIP/2.0 " prefix.
  assert.equal(looksFailed('SIP', 'SIP/2.0 486 Busy Here'), true);
  assert.equal(looksFailed('SIP', '486 Busy Here [1 INVITE] (Call-ID 1a2b3c4d)'), true);
  assert.equal(looksFailed('SIP', '503 Service Unavailable [2 INVITE]'), true);
  assert.equal(looksFailed('SIP', '603 Decline [1 INVITE]'), true);
  assert.equal(looksFailed('SIP', 'SIP/2.0 401 Unauthorized'), false);
  assert.equal(looksFailed('SIP', '407 Proxy Authentication Required [1 INVITE]'), false);
  assert.equal(looksFailed('SIP', 'SIP/2.0 200 OK'), false);
  assert.equal(looksFailed('SIP', '180 Ringing [1 INVITE] (Call-ID 1a2b3c4d)'), false);
  assert.equal(looksFailed('SIP', 'INVITE sip:+447700900123@platform (Call-ID 1a2b3c4d)'), false);
  assert.equal(
    looksFailed('SIP', 'dropped (transport not connected): 488 Not Acceptable Here [1 INVITE]'),
    true,
  );
  assert.equal(looksFailed('SIP', 'PROBLEM: no ACK for 200 OK'), true);
});

test('looksFailed reads the SMPP, HTTP and webhook summaries the drivers record', () => {
  assert.equal(looksFailed('SMPP', 'submit_sm_resp ESME_RTHROTTLED'), true);
  assert.equal(looksFailed('SMPP', 'bind_transceiver_resp ESME_RINVPASWD parcelly'), true);
  assert.equal(looksFailed('SMPP', 'submit_sm_resp 0x00000458'), true);
  assert.equal(looksFailed('SMPP', 'submit_sm_resp ESME_ROK id=abc'), false);
  assert.equal(looksFailed('SMPP', 'submit_sm_resp id=abc'), false);
  assert.equal(looksFailed('SMPP', 'deliver_sm +447700900123 "ESME_RTHROTTLED is just text"'), false);
  assert.equal(looksFailed('SMPP', 'VIOLATION: submit_sm without registered_delivery'), true);
  assert.equal(looksFailed('HTTP', 'POST /v1/messages → 422 (7 ms)'), true);
  assert.equal(looksFailed('HTTP', 'POST /v1/messages → 202 (7 ms)'), false);
  assert.equal(looksFailed('HTTP', 'GET /v1/calls → no response: ECONNREFUSED (2 ms)'), true);
  assert.equal(looksFailed('WEBHOOK', 'POST /hooks/a → 200 ok'), false);
  assert.equal(looksFailed('WEBHOOK', 'POST /hooks/a → 401 signature does not match'), true);
  assert.equal(
    looksFailed('RTP', 'RTP PCMU stream started 127.0.0.1:4000 -> 127.0.0.1:5000 (SSRC 1)'),
    false,
  );
});

test('a crash or hang injected by the fault seam is drawn as a failure; a recovery or takeover is not', () => {
  assert.equal(looksFailed('FAULT', 'crash sip node a (pid 4242)'), true);
  assert.equal(looksFailed('FAULT', 'hang the active media node'), true);
  assert.equal(looksFailed('FAULT', 'recover sip node a'), false);
  assert.equal(looksFailed('FAULT', 'serving again: a new call answered after 612 ms'), false);
});

test("the lab's Kamailio and rtpengine stand in the middle, between the phones and the networks", () => {
  const order = orderActors([
    arrow("Alice's phone", 'Kamailio', 'INVITE sip:+15550100@127.0.0.1'),
    arrow('platform SIP', 'PSTN', 'INVITE sip:+15550100@pstn'),
    arrow('PSTN', 'rtpengine', 'first RTP packet'),
    arrow("Alice's phone", 'rtpengine', 'first RTP packet'),
  ]);
  assert.deepEqual(order, ["Alice's phone", 'Kamailio', 'platform SIP', 'rtpengine', 'PSTN']);
});
