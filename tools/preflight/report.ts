/** The preflight's report: one line per check, and the error that stops a run. */
import type { TargetName } from '../../support/config';
import type { Capability } from './selection';

const CAPABILITY_NAMES: Readonly<Record<Capability, string>> = {
  sip: 'SIP',
  smpp: 'SMPP',
  webhooks: 'webhooks',
};

export interface PreflightCheck {
  name: string;
  ok: boolean;
  /** What is wrong and how to fix it, naming the PHASE2_* variable involved. */
  problem?: string;
  /** Not checked because something it needs failed (that failure has its own line). */
  skipped?: string;
  /** What was proven, for a check that passed. */
  detail?: string;
  ms: number;
}

export interface PreflightReport {
  target: TargetName;
  tags?: string;
  capabilities: Capability[];
  scenarios?: number;
  checks: PreflightCheck[];
  /** Things that do not stop the run: cleanup that failed, a tag parser that could not load. */
  warnings: string[];
  ok: boolean;
  ms: number;
}

export interface PreflightOptions {
  /** A Cucumber tag expression: only what the selected scenarios use is checked. */
  tags?: string;
  /** Bound of each check's own work (after what it depends on); default 3000 ms. */
  checkTimeoutMs?: number;
  featuresDir?: string;
}

/** One line per check (✔ proven, ✖ problem, – not checked) and a last line with the verdict. */
export function formatReport(report: PreflightReport): string {
  if (report.target === 'embedded')
    return 'Preflight: embedded target: the platform starts in-process; nothing to check.';
  const selection =
    report.tags === undefined
      ? 'no tags: checking everything'
      : report.scenarios === undefined
        ? `tags "${report.tags}"`
        : `tags "${report.tags}" select ${report.scenarios} scenario(s), which use: ${['API', 'carrier double', ...report.capabilities.map((c) => CAPABILITY_NAMES[c])].join(', ')}`;
  const width = Math.max(...report.checks.map((check) => check.name.length));
  const lines = [`Preflight of the remote target (${selection})`];
  for (const check of report.checks) {
    const mark = check.ok ? '✔' : check.problem !== undefined ? '✖' : '–';
    const text =
      check.problem ?? (check.skipped !== undefined ? `not checked: ${check.skipped}` : check.detail);
    lines.push(`  ${mark} ${check.name.padEnd(width)}  ${text ?? ''} (${check.ms} ms)`);
  }
  for (const warning of report.warnings) lines.push(`  ! ${warning}`);
  const problems = report.checks.filter((check) => check.problem !== undefined).length;
  lines.push(
    problems === 0
      ? `Preflight passed in ${(report.ms / 1000).toFixed(1)} s.`
      : `Preflight found ${problems} problem(s) in ${(report.ms / 1000).toFixed(1)} s: fix them (README.md → Targets) and run \`npm run preflight\` again.`,
  );
  return lines.join('\n');
}

/** Thrown by the hook to stop the run; the report has been printed already. */
export class PreflightError extends Error {
  declare readonly report: PreflightReport;

  constructor(report: PreflightReport) {
    const problems = report.checks.filter((check) => check.problem !== undefined);
    super(`Preflight found ${problems.length} problem(s): ${problems.map((p) => p.problem).join(' | ')}`);
    this.name = 'PreflightError';
    // Not enumerable: Cucumber prints the error with its properties, and the lines are printed already.
    Object.defineProperty(this, 'report', { value: report, enumerable: false });
  }
}
