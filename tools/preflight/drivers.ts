/**
 * The suite's drivers, loaded only when a check needs them: the usual failure (a wrong key, a
 * closed port) is reported without loading sip.js, the SMPP library, faker or the API contract.
 */
/* eslint-disable @typescript-eslint/no-require-imports */

export function factories(): typeof import('../../world/factories') {
  return require('../../world/factories') as typeof import('../../world/factories');
}

export function apiClient(): typeof import('../../world/http/api-client') {
  return require('../../world/http/api-client') as typeof import('../../world/http/api-client');
}

export function smppDrivers(): typeof import('../../world/smpp/smpp-session') {
  return require('../../world/smpp/smpp-session') as typeof import('../../world/smpp/smpp-session');
}

export function sipDrivers(): typeof import('../../world/sip/sip-phone') {
  return require('../../world/sip/sip-phone') as typeof import('../../world/sip/sip-phone');
}

export function carrierDrivers(): typeof import('../../world/smpp/carrier-smsc') {
  return require('../../world/smpp/carrier-smsc') as typeof import('../../world/smpp/carrier-smsc');
}

export function webhookDrivers(): typeof import('../../world/http/webhook-receiver') {
  return require('../../world/http/webhook-receiver') as typeof import('../../world/http/webhook-receiver');
}
