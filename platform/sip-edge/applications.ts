/**
 * What the sip-edge needs from the platform's services for the calls it answers itself; the
 * types live in ../contracts.ts so that core implements them without importing the edge.
 */
export type { CallApplications, CodeCheck, LeftVoicemail } from '../contracts';
