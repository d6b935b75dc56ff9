/**
 * Calls in progress as the API controls them: list, hang up, hold, transfer. The sip-edge does
 * the work behind the LiveCallControl contract; this service adds the API's input rules and
 * "not found" answers.
 */
import { NotFoundError, ValidationError } from '../errors';
import { InputReader } from '../input';
import type { LiveCallControl, LiveCallResource } from '../contracts';

export class LiveCallServices {
  constructor(private readonly calls: LiveCallControl) {}

  listLiveCalls(customerId: string): LiveCallResource[] {
    return this.calls.list(customerId);
  }

  getLiveCall(customerId: string, id: string): LiveCallResource {
    const call = this.calls.list(customerId).find((c) => c.id === id);
    if (!call) throw new NotFoundError('live call', id);
    return call;
  }

  hangupLiveCall(customerId: string, id: string): void {
    if (!this.calls.hangup(customerId, id)) throw new NotFoundError('live call', id);
  }

  holdLiveCall(customerId: string, id: string, held: boolean): LiveCallResource {
    const call = this.calls.setHeld(customerId, id, held);
    if (!call) throw new NotFoundError('answered live call', id);
    return call;
  }

  async transferLiveCall(customerId: string, id: string, body: unknown): Promise<{ id: string; to: string }> {
    const input = new InputReader(body, ['to']);
    const to = input.string('to', {
      pattern: /^(\+[1-9][0-9]{7,14}|[A-Za-z0-9._-]{1,64})$/,
      patternHint: 'must be an E.164 number or one of your SIP usernames',
    });
    input.done();
    const outcome = await this.calls.transfer(customerId, id, to);
    if (outcome === 'no-such-call') throw new NotFoundError('answered live call', id);
    if (outcome === 'no-route')
      throw new ValidationError([
        {
          field: 'to',
          message: `${to} is neither a registered user of yours nor reachable over your trunks`,
        },
      ]);
    return { id, to };
  }
}
