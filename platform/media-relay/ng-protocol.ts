/**
 * rtpengine's "ng" control protocol framing: one UDP datagram per message, `<cookie> <bencoded
 * dictionary>`; the reply carries the same cookie. Commands name themselves in "command"
 * ("ping", "offer", "answer", "delete", "query", "block media", …); replies carry "result"
 * ("pong", "ok", "error" with "error-reason").
 */
import { asDict, decode, encode, type BencodeValue } from './bencode';

export type NgDict = { [key: string]: BencodeValue };

export interface NgMessage {
  cookie: string;
  body: NgDict;
}

/** Splits and decodes a datagram; throws with what is wrong (no cookie, bad bencode, not a dictionary). */
export function parseNgMessage(datagram: Buffer): NgMessage {
  const space = datagram.indexOf(0x20);
  if (space <= 0) throw new Error('ng message without "<cookie> " before the bencoded dictionary');
  const cookie = datagram.subarray(0, space).toString('latin1');
  const body = asDict(decode(datagram.subarray(space + 1)));
  if (!body) throw new Error(`ng message ${cookie}: the body is not a bencoded dictionary`);
  return { cookie, body };
}

export function formatNgMessage(cookie: string, body: NgDict): Buffer {
  return Buffer.concat([Buffer.from(`${cookie} `, 'latin1'), encode(body)]);
}

export function ngError(reason: string): NgDict {
  return { result: 'error', 'error-reason': reason };
}
