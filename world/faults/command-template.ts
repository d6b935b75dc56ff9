/**
 * The remote fault seam's command: an operator's template such as
 * `systemctl kill --signal=KILL phase2-{role}@{node}` or `docker kill phase2-{role}-{node}`,
 * split into words once and run with execFile. Values are substituted inside words, never
 * handed to a shell, so nothing a value contains can start another command.
 */
import { execFile } from 'node:child_process';

export const PLACEHOLDERS = ['role', 'node', 'action'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

export class CommandTemplateError extends Error {}

/**
 * Splits a template into words like a POSIX shell would for plain words and quotes ('…' keeps
 * everything, "…" and \ escape), without expansion of any kind. Throws on an unclosed quote or
 * shell operators outside quotes: a template that needs a pipe belongs in a script of its own.
 */
export function splitTemplate(template: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < template.length; i += 1) {
    const c = template[i];
    if (c === "'") {
      const end = template.indexOf("'", i + 1);
      if (end < 0) throw new CommandTemplateError(`unclosed ' in the fault command "${template}"`);
      word += template.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < template.length && template[j] !== '"'; j += 1) {
        if (template[j] === '\\' && j + 1 < template.length) j += 1;
        word += template[j];
      }
      if (j >= template.length)
        throw new CommandTemplateError(`unclosed " in the fault command "${template}"`);
      inWord = true;
      i = j;
    } else if (c === '\\' && i + 1 < template.length) {
      word += template[(i += 1)];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (/[|&;<>()`$]/.test(c)) {
      throw new CommandTemplateError(
        `the fault command "${template}" uses the shell operator '${c}': it is run without a shell; put the pipeline in a script and name the script`,
      );
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  if (words.length === 0) throw new CommandTemplateError('the fault command is empty');
  return words;
}

/** What a value may look like: role and node names and actions are plain identifiers. */
const SAFE_VALUE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** The argv for one fault: every {placeholder} replaced in every word; unknown placeholders are an error. */
export function commandFor(template: string, values: Record<Placeholder, string>): string[] {
  for (const name of PLACEHOLDERS) {
    if (!SAFE_VALUE.test(values[name]))
      throw new CommandTemplateError(`the ${name} "${values[name]}" is not a plain name: refused`);
  }
  return splitTemplate(template).map((word) =>
    word.replace(/\{([^{}]*)\}/g, (whole, name: string) => {
      if (!(PLACEHOLDERS as readonly string[]).includes(name))
        throw new CommandTemplateError(
          `the fault command has the placeholder ${whole}; only {role}, {node} and {action} exist`,
        );
      return values[name as Placeholder];
    }),
  );
}

/** What running the command showed: the evidence of a fault on a remote target. */
export interface CommandRun {
  argv: string[];
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** Set when it did not run or did not finish: ENOENT, a timeout. */
  error?: string;
}

/** Runs argv without a shell, bounded; never rejects: the caller judges the exit code. */
export function runCommand(argv: string[], timeoutMs: number): Promise<CommandRun> {
  const started = Date.now();
  const [file, ...args] = argv;
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024, shell: false },
      (error, stdout, stderr) => {
        const failure = error as (NodeJS.ErrnoException & { killed?: boolean; signal?: string }) | null;
        const code = failure?.code;
        resolve({
          argv,
          exitCode: failure ? (typeof code === 'number' ? code : null) : 0,
          signal: failure?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
          ms: Date.now() - started,
          ...(failure && typeof code !== 'number'
            ? {
                error: failure.killed
                  ? `did not finish within ${timeoutMs} ms (killed)`
                  : (failure.code ?? failure.message),
              }
            : {}),
        });
      },
    );
  });
}
