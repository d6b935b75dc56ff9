/**
 * Input patterns and hints that several resources share (hosts, identifiers, number prefixes),
 * so that a trunk, a connector and a SIP account refuse the same bad value with the same words.
 */

export const E164_HINT = 'must be an E.164 number: + and 8 to 15 digits, such as +14155550100';
export const HOST = /^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+)$/;
export const IDENTIFIER = /^[A-Za-z0-9._-]{1,64}$/;
export const PREFIX = /^\+?\d{1,15}$/;
export const PREFIX_HINT = 'must be a number prefix: an optional + and 1 to 15 digits';
