/**
 * Draws recorded protocol traffic as an SVG sequence ("ladder") diagram: one column per actor,
 * time flowing down, one arrow per message. Pure and dependency-free so a report can embed the
 * same picture for the same traffic every time (no clock, no randomness).
 */

export interface LadderArrow {
  /** ISO time. */
  at: string;
  from: string;
  /** May equal `from`: drawn as a small loop on the lifeline. */
  to: string;
  /** One line, e.g. `INVITE sip:+44…`, `submit_sm +4477… "Hello"`, `POST /v1/messages → 202`. */
  label: string;
  /** Highlighted (red) when true. */
  failed?: boolean;
}

export interface LadderDiagram {
  title: string;
  arrows: LadderArrow[];
  /** Expected messages that never came: drawn at the bottom as red dashed notes. */
  missing?: string[];
}

/** More rows than this make a multi-megabyte picture nobody scrolls through. */
export const MAX_ARROWS = 400;

const FONT_PX = 12;
/** Left margin holding the "+0.123 s" time offsets. */
const TIME_MARGIN = 80;
const PAD = 10;
const COL_W = 180;
/** So a two-actor diagram still has room for its labels. */
const MIN_WIDTH = 600;
const HEAD_TOP = 36;
const HEAD_H = 38;
const FIRST_ROW_GAP = 30;
const ROW_H = 28;
const NOTE_H = 24;
const NOTE_GAP = 8;
/** Tooltips carry the full text, but one pathological label must not bloat the document. */
const MAX_TOOLTIP_GRAPHEMES = 2000;

const STYLE = [
  '.ladder text { font-family: sans-serif; font-size: 12px; fill: #222; }',
  // A white halo keeps a label readable where it crosses another actor's lifeline.
  '.ladder .label { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }',
  '.ladder .title { font-size: 14px; font-weight: bold; }',
  '.ladder .time { font-size: 11px; fill: #666; }',
  '.ladder .actor rect { fill: #eef3fb; stroke: #5b7db1; }',
  '.ladder .actor text { font-weight: 600; }',
  '.ladder .lifeline { stroke: #9aa; stroke-dasharray: 4 3; }',
  '.ladder .arrow line, .ladder .arrow path { stroke: #333; fill: none; stroke-width: 1.2; }',
  '.ladder .arrow polygon { fill: #333; }',
  '.ladder .failed line, .ladder .failed path { stroke: #c62828; stroke-width: 1.8; }',
  '.ladder .failed polygon { fill: #c62828; }',
  '.ladder .failed text { fill: #c62828; font-weight: bold; }',
  '.ladder .more { fill: #666; font-style: italic; }',
  '.ladder .missing rect { fill: #fdecea; stroke: #c62828; stroke-dasharray: 6 4; stroke-width: 1.5; }',
  '.ladder .missing text { fill: #c62828; font-weight: bold; }',
].join('\n');

/** Column group: 0 left (phones, customers, suite clients), 1 platform, 2 right (networks, receivers). */
function actorGroup(actor: string): number {
  // "Parcelly → platform API" names a client talking to the platform: the client decides.
  const name = actor.split('→')[0].trim();
  if (/\bplatform\b/i.test(name) || /\bremote RTP\b|\bmedia relay\b|\bKamailio\b|\brtpengine\b/i.test(name))
    return 1;
  if (/^(PSTN|carrier)\b/i.test(name) || /\bSMSC\b|\bwebhooks?\b|\bnetwork\b|\btrunk\b/i.test(name)) return 2;
  return 0;
}

/** Orders actor columns: phones/customers/suite clients left, platform roles (and the lab's Kamailio and rtpengine) in the middle, PSTN/carrier/webhook receiver right; ties by first appearance. */
export function orderActors(arrows: LadderArrow[]): string[] {
  const seen: string[] = [];
  for (const arrow of arrows) {
    if (!seen.includes(arrow.from)) seen.push(arrow.from);
    if (!seen.includes(arrow.to)) seen.push(arrow.to);
  }
  // Array.prototype.sort is stable, so equal groups keep their first-appearance order.
  return seen
    .map((actor, index) => ({ actor, index, group: actorGroup(actor) }))
    .sort((a, b) => a.group - b.group || a.index - b.index)
    .map((entry) => entry.actor);
}

/** SIP status code at the start of a summary: `486 Busy Here [1 INVITE] …` or a raw `SIP/2.0 486 …`. */
function sipFailed(summary: string): boolean {
  // The transport still saw the response when it dropped it; judge the response itself.
  const text = summary.replace(/^dropped \([^)]*\):\s*/, '');
  const match = /^(?:SIP\/2\.0\s+)?([1-6]\d\d)\b/.exec(text);
  if (!match) return false;
  const code = Number(match[1]);
  // 401/407 are the ordinary digest challenges before an authenticated retry.
  return code >= 400 && code !== 401 && code !== 407;
}

/** pduSummary puts a non-zero command_status right after the command: `submit_sm_resp ESME_RTHROTTLED`. */
function smppFailed(summary: string): boolean {
  // Only look before the quoted short message text, which may say anything.
  const quote = summary.indexOf('"');
  const tokens = (quote < 0 ? summary : summary.slice(0, quote)).split(/\s+/);
  if (tokens.some((token) => /^ESME_R\w+$/.test(token) && token !== 'ESME_ROK')) return true;
  // A status the smpp library has no name for is printed as hex.
  const status = tokens[1] ?? '';
  return /^0x[0-9a-f]{8}$/i.test(status) && Number(status) !== 0;
}

/** `POST /v1/messages → 202 (12 ms)`, `→ no response: …`, webhook `POST /hook → 500 simulated`. */
function httpFailed(summary: string): boolean {
  const arrow = summary.lastIndexOf('→');
  if (arrow < 0) return false;
  const outcome = summary.slice(arrow + 1).trim();
  if (/^no response\b/i.test(outcome)) return true;
  const match = /^(\d{3})\b/.exec(outcome);
  return match !== null && Number(match[1]) >= 400;
}

/** Whether a traffic summary reports a failure: SIP final responses >= 400 except 401/407 challenges, SMPP responses with a non-OK command status (ESME_R… other than ESME_ROK), HTTP responses >= 400 or "no response", lines starting with "VIOLATION". */
export function looksFailed(protocol: string, summary: string): boolean {
  const text = summary.trim();
  // The carrier double records VIOLATION, the PSTN double PROBLEM: both fail the scenario.
  if (/^(VIOLATION|PROBLEM)\b/.test(text)) return true;
  switch (protocol.toUpperCase()) {
    case 'SIP':
      return sipFailed(text);
    case 'SMPP':
      return smppFailed(text);
    case 'HTTP':
    case 'WEBHOOK':
      return httpFailed(text);
    case 'FAULT':
      // A node that crashed or hung is the event a failover scenario is about: it stands out.
      return /^(crash|hang)\b/.test(text);
    default:
      return false;
  }
}

/**
 * One line of XML-safe text: control characters (invalid in XML 1.0) become spaces, and lone
 * surrogates (a UTF-16 slice through an emoji) become U+FFFD so the document still parses.
 */
function clean(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f\ufffe\uffff]+/g, ' ')
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
  );
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** Whole user-perceived characters, so truncation never splits an emoji or a combining mark. */
function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (part) => part.segment);
}

/** Rough advance width at 12px sans-serif; wide scripts and emoji take a full em. */
function graphemeWidth(grapheme: string): number {
  const code = grapheme.codePointAt(0) ?? 0;
  const wide =
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0x2600 && code <= 0x27bf) ||
    code >= 0x1f000;
  return wide ? FONT_PX : FONT_PX * 0.58;
}

function textWidth(text: string, scale = 1): number {
  return scale * graphemes(text).reduce((sum, g) => sum + graphemeWidth(g), 0);
}

/** Bold glyphs (failed labels, notes, actor names) run about a tenth wider. */
const BOLD = 1.12;

/** Cuts text to fit maxPx (estimated), ending with an ellipsis when anything was cut. */
function fit(text: string, maxPx: number, scale = 1): string {
  maxPx /= scale;
  const parts = graphemes(text);
  let width = 0;
  for (const part of parts) width += graphemeWidth(part);
  if (width <= maxPx) return text;
  const room = maxPx - graphemeWidth('…');
  let kept = '';
  width = 0;
  for (const part of parts) {
    width += graphemeWidth(part);
    if (width > room) break;
    kept += part;
  }
  return `${kept.trimEnd()}…`;
}

/** The full text for a hover tooltip, bounded in size. */
function tooltip(text: string): string {
  const parts = graphemes(text);
  const bounded =
    parts.length > MAX_TOOLTIP_GRAPHEMES ? `${parts.slice(0, MAX_TOOLTIP_GRAPHEMES).join('')}…` : text;
  return `<title>${escapeXml(bounded)}</title>`;
}

/** Up to two lines for an actor header: break between words, ellipsis if still too long. */
function wrapName(name: string, maxPx: number): string[] {
  if (textWidth(name, BOLD) <= maxPx) return [name];
  const words = name.split(' ');
  let first = '';
  let used = 0;
  while (used < words.length) {
    const candidate = first ? `${first} ${words[used]}` : words[used];
    if (textWidth(candidate, BOLD) > maxPx) break;
    first = candidate;
    used += 1;
  }
  // One unbreakable word wider than the box: cut it rather than leave the first line empty.
  if (used === 0) return [fit(name, maxPx, BOLD)];
  return [first, fit(words.slice(used).join(' '), maxPx, BOLD)];
}

function formatOffset(at: string, start: number): string {
  const time = Date.parse(at);
  if (Number.isNaN(time) || Number.isNaN(start)) return '';
  const seconds = (time - start) / 1000;
  return `${seconds < 0 ? '−' : '+'}${Math.abs(seconds).toFixed(3)} s`;
}

/** Attribute-ready numbers: whole pixels keep the output short and stable. */
function px(value: number): string {
  return String(Math.round(value));
}

/** The SVG document (a complete <svg xmlns=...> string with width/height/viewBox). */
export function renderLadder(diagram: LadderDiagram): string {
  // Cleaned up front so an actor's column is found under the same name it is drawn with.
  const drawn = diagram.arrows
    .slice(0, MAX_ARROWS)
    .map((arrow) => ({ ...arrow, from: clean(arrow.from), to: clean(arrow.to), label: clean(arrow.label) }));
  const notDrawn = diagram.arrows.length - drawn.length;
  const missing = diagram.missing ?? [];
  // Only drawn arrows get columns: an actor seen only past the bound would be an empty column.
  const actors = orderActors(drawn);
  const columns = Math.max(1, actors.length);
  const colW = Math.max(COL_W, (MIN_WIDTH - TIME_MARGIN - PAD) / columns);
  const width = Math.round(TIME_MARGIN + columns * colW + PAD);
  const left = TIME_MARGIN;
  const right = width - PAD;
  const centre = new Map<string, number>(actors.map((actor, i) => [actor, left + colW * (i + 0.5)]));

  const body: string[] = [];
  const title = clean(diagram.title);
  body.push(
    `<text class="title" x="${PAD}" y="22">${escapeXml(fit(title, width - 2 * PAD, BOLD * (14 / FONT_PX)))}${tooltip(title)}</text>`,
  );

  const firstRow = HEAD_TOP + HEAD_H + FIRST_ROW_GAP;
  const rows = drawn.length + (notDrawn > 0 ? 1 : 0) + (drawn.length === 0 ? 1 : 0);
  const lifelineEnd = firstRow + Math.max(0, rows - 1) * ROW_H + 20;

  const headers = (top: number): void => {
    actors.forEach((actor, i) => {
      const x = left + colW * i + 8;
      const lines = wrapName(actor, colW - 28);
      const firstBaseline = top + HEAD_H / 2 + 4 - ((lines.length - 1) * 15) / 2;
      const texts = lines
        .map(
          (line, n) =>
            `<text x="${px(x + (colW - 16) / 2)}" y="${px(firstBaseline + n * 15)}" text-anchor="middle">${escapeXml(line)}</text>`,
        )
        .join('');
      body.push(
        `<g class="actor">${tooltip(actor)}<rect x="${px(x)}" y="${top}" width="${px(colW - 16)}" height="${HEAD_H}" rx="4"/>${texts}</g>`,
      );
    });
  };

  headers(HEAD_TOP);
  for (const actor of actors) {
    const x = px(centre.get(actor) ?? left);
    body.push(`<line class="lifeline" x1="${x}" y1="${HEAD_TOP + HEAD_H}" x2="${x}" y2="${lifelineEnd}"/>`);
  }

  const start = drawn.length > 0 ? Date.parse(drawn[0].at) : NaN;
  drawn.forEach((arrow, i) => {
    const y = firstRow + i * ROW_H;
    const from = centre.get(arrow.from) ?? left;
    const to = centre.get(arrow.to) ?? left;
    const label = arrow.label;
    const cls = arrow.failed ? 'arrow failed' : 'arrow';
    const scale = arrow.failed ? BOLD : 1;
    const parts: string[] = [tooltip(label)];
    const offset = formatOffset(arrow.at, start);
    if (offset)
      body.push(`<text class="time" x="${left - 6}" y="${y + 4}" text-anchor="end">${offset}</text>`);

    if (from === to) {
      // Self-note: a small loop on the lifeline, the label beside it on whichever side has room.
      parts.push(
        `<path d="M${px(from)} ${y - 7} h22 v14 h-14"/>`,
        `<polygon points="${px(from)},${y + 7} ${px(from + 8)},${y + 3} ${px(from + 8)},${y + 11}"/>`,
      );
      const roomRight = right - (from + 28);
      const roomLeft = from - 6 - (left + 4);
      const onRight = roomRight >= Math.min(roomLeft, colW * 1.5);
      const room = onRight ? roomRight : roomLeft;
      const x = onRight ? from + 28 : from - 6;
      parts.push(
        `<text class="label" x="${px(x)}" y="${y + 4}"${onRight ? '' : ' text-anchor="end"'}>${escapeXml(fit(label, room, scale))}</text>`,
      );
    } else {
      const direction = to > from ? 1 : -1;
      parts.push(
        `<line x1="${px(from)}" y1="${y}" x2="${px(to - direction * 8)}" y2="${y}"/>`,
        `<polygon points="${px(to)},${y} ${px(to - direction * 9)},${y - 4} ${px(to - direction * 9)},${y + 4}"/>`,
      );
      // One arrow per row, so a label may run past its span over other lifelines (the halo keeps
      // it legible), but it stays centred on the arrow and inside the picture.
      const mid = (from + to) / 2;
      const wanted = Math.max(Math.abs(to - from) - 12, 2 * colW - 12);
      const room = Math.min(wanted, 2 * (mid - (left + 4)), 2 * (right - mid));
      parts.push(
        `<text class="label" x="${px(mid)}" y="${y - 5}" text-anchor="middle">${escapeXml(fit(label, room, scale))}</text>`,
      );
    }
    body.push(`<g class="${cls}">${parts.join('')}</g>`);
  });

  if (drawn.length === 0) {
    body.push(`<text class="more" x="${left + 8}" y="${firstRow + 4}">no traffic recorded</text>`);
  }
  if (notDrawn > 0) {
    const y = firstRow + drawn.length * ROW_H;
    body.push(`<text class="more" x="${left + 8}" y="${y + 4}">… ${notDrawn} more not drawn</text>`);
  }

  // Headers again at the foot: with hundreds of rows the top ones have scrolled away.
  if (actors.length > 0) headers(lifelineEnd);

  let y = lifelineEnd + (actors.length > 0 ? HEAD_H : 0) + 14;
  for (const expected of missing) {
    const text = `expected but never came: ${clean(expected)}`;
    body.push(
      `<g class="missing">${tooltip(text)}<rect x="${left}" y="${y}" width="${right - left}" height="${NOTE_H}" rx="3"/>` +
        `<text x="${left + 8}" y="${y + 16}">${escapeXml(fit(text, right - left - 16, BOLD))}</text></g>`,
    );
    y += NOTE_H + NOTE_GAP;
  }
  const height = y + PAD;

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="ladder" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    tooltip(title),
    `<style>\n${STYLE}\n</style>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
