import { defineParameterType } from '@cucumber/cucumber';

/** A persona in the scenario: Alice, Bob, Carol… (a capitalised first name). */
defineParameterType({
  name: 'person',
  regexp: /[A-Z][a-z]+/,
  transformer: (name: string) => name,
});

/** The plan's customer kinds (seed: Test Data Requirements → Customer Accounts). */
export const CUSTOMER_TIERS = {
  standard: 'standard',
  premium: 'premium',
  'call-center': 'call-center',
  'API-only': 'api-only',
} as const;

defineParameterType({
  name: 'tier',
  regexp: /standard|premium|call-center|API-only/,
  transformer: (label: string) => CUSTOMER_TIERS[label as keyof typeof CUSTOMER_TIERS],
});

/** How a person's SIP phone connects: a desk phone over UDP, a web softphone over WebSocket. */
export const PHONE_KINDS = { 'desk phone': 'udp', 'web softphone': 'ws' } as const;

defineParameterType({
  name: 'phoneKind',
  regexp: /desk phone|web softphone/,
  transformer: (label: string) => label as keyof typeof PHONE_KINDS,
});

/** Final message states as customers see them. */
defineParameterType({
  name: 'messageOutcome',
  regexp: /delivered|undeliverable|expired|rejected/,
  transformer: (s: string) => s,
});

/** A setting a refused API change must name, in business words, mapped to its API field. */
export const SETTING_FIELDS = { trunk: 'trunkId', 'caller ID': 'callerId', prefix: 'prefix' } as const;

defineParameterType({
  name: 'setting',
  regexp: /trunk|caller ID|prefix/,
  transformer: (label: string) => SETTING_FIELDS[label as keyof typeof SETTING_FIELDS],
});

/** The lines of a customer a handset can text a keyword to. */
defineParameterType({
  name: 'callbackLine',
  regexp: /short code|callback number/,
  transformer: (label: string) => label,
});

/** The alphabet a text travels in, as people say it, mapped to the platform's encoding names. */
defineParameterType({
  name: 'alphabet',
  regexp: /the GSM alphabet|UCS-2/,
  transformer: (label: string) => (label === 'UCS-2' ? 'ucs2' : 'gsm7'),
});

/** A role of the redundant platform, as the failover features name its nodes (tasks/failover.ts). */
export const PLATFORM_NODES = {
  'SIP node': 'sip',
  'media relay': 'media',
  'SMSC node': 'smsc',
  'API gateway node': 'api',
} as const;

defineParameterType({
  name: 'platformNode',
  regexp: /SIP node|media relay|SMSC node|API gateway node/,
  transformer: (label: string) => PLATFORM_NODES[label as keyof typeof PLATFORM_NODES],
});

/** A text the spam filter must refuse, as the security feature names it, mapped to the rule it breaks. */
export const SUSPECT_TEXTS = {
  'a link to a blocked site': 'blocked-link',
  'a link to a blocked site in a long message': 'blocked-link-long',
  'a phishing phrase': 'phishing-phrase',
  "a brand's sender name it is not registered for": 'unregistered-sender',
} as const;

defineParameterType({
  name: 'suspectText',
  regexp:
    /a link to a blocked site in a long message|a link to a blocked site|a phishing phrase|a brand's sender name it is not registered for/,
  transformer: (label: string) => SUSPECT_TEXTS[label as keyof typeof SUSPECT_TEXTS],
});

/** The channel a customer sends a text through. */
defineParameterType({
  name: 'sendingChannel',
  regexp: /through the API|over SMPP/,
  transformer: (label: string) => (label === 'over SMPP' ? 'smpp' : 'api'),
});
