/**
 * Test providers: scenarios tagged @stubbed-provider tell the platform's speech-to-text provider
 * what to hear. That needs a provider the suite controls and the platform is pointed at; a
 * target that declares none cannot run them, and says so here instead of as a failed scenario.
 */
import type { PlatformEndpoints } from '../../../support/config';
import { Problem, passed, type Passed } from '../outcome';

export async function checkTestProviders(endpoints: PlatformEndpoints): Promise<Passed> {
  const declared = endpoints.stubbedProviders?.speechToTextUrl;
  if (!declared)
    throw new Problem(
      'the selected scenarios include @stubbed-provider ones, which need a speech-to-text test provider the platform is pointed at; this target declares none: run them on the embedded target, or deselect them with --tags "not @stubbed-provider"',
    );
  return passed(`speech-to-text test provider declared at ${declared}`);
}
