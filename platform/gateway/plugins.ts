import type { Caller } from '../core/services';

/** What a plugin sees of a request that passed authentication. */
export interface PluginRequest {
  method: string;
  path: string;
  /** The API key as sent (already verified). */
  apiKey: string;
  caller: Caller;
  requestId: string;
}

/** A response a plugin sends instead of letting the request through (Kong's `kong.response.exit`). */
export interface PluginExit {
  status: number;
  /** Kong plugins answer in Kong's shape: `{ message }`. */
  body: { message: string };
  headers?: Record<string, string>;
}

/**
 * Kong's access phase, as a seam: plugins run in order after key-auth and before the route
 * handler. Rate limiting plugs in here (RateLimit-* headers on every response, 429 on exit).
 */
export interface GatewayPlugin {
  readonly name: string;
  access(request: PluginRequest): { exit?: PluginExit; headers?: Record<string, string> } | undefined;
}
