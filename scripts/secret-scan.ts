import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Looks for secret values in report directories. The secrets are the values the suite's
 * redaction hid during the run (API keys, passwords, webhook secrets, signatures) plus the
 * operator key: none of them may appear in any file a person or a CI server will read.
 */
export interface SecretFinding {
  file: string;
  /** The secret shortened to its first characters: enough to recognise, never the whole value. */
  hint: string;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

export function scanForSecrets(secrets: readonly string[], dirs: readonly string[]): SecretFinding[] {
  const distinct = [...new Set(secrets.filter((s) => s.length >= 6))];
  const findings: SecretFinding[] = [];
  for (const file of dirs.flatMap(filesUnder)) {
    const text = readFileSync(file).toString('latin1');
    for (const secret of distinct) {
      if (text.includes(secret)) findings.push({ file, hint: `${secret.slice(0, 4)}…` });
    }
  }
  return findings;
}
