/**
 * Which checks the selected scenarios need: a Cucumber tag expression evaluated against the
 * feature files as Cucumber would, and each category tag mapped to what its scenarios use.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** What a scenario may use beyond the API and the carrier double (which every run needs). */
export type Capability = 'sip' | 'smpp' | 'webhooks';

export const EVERYTHING: readonly Capability[] = ['sip', 'smpp', 'webhooks'];

/**
 * Category tag → what its scenarios use. The API, the operator key and the carrier double are
 * checked for every run: the suite's environment (support/environment.ts) provisions through the
 * API and waits for the platform to bind to its carrier double before any scenario. Categories
 * without features yet, and scenarios without a category tag, are assumed to use everything.
 */
export const CATEGORY_NEEDS: Readonly<Record<string, readonly Capability[]>> = {
  '@voice-sms': ['sip'], // phones; texts to and from mobiles go through the carrier double
  '@api-voice': ['sip', 'webhooks'], // trunks and phones; call.completed webhooks
  '@api-sms': ['smpp', 'webhooks'], // texts by API and by SMPP; delivery reports as webhooks
  '@workflows': EVERYTHING,
  '@failover': EVERYTHING,
  '@security': EVERYTHING,
  '@load': EVERYTHING,
  '@data-consistency': EVERYTHING,
  '@journeys': EVERYTHING,
};

export interface Selection {
  capabilities: Capability[];
  /** Scenarios (pickles) the tag expression selects; undefined when no expression was given. */
  scenarios?: number;
  /** Why everything is checked although an expression was given (the parser could not load). */
  note?: string;
  /**
   * Selected scenarios tagged @stubbed-provider (or everything is selected): they need test
   * providers (speech-to-text) that the target declares and the platform is pointed at.
   */
  stubbedProviders?: true;
  /** How many selected scenarios are tagged @failover (they need a fault seam); absent when none. */
  failover?: number;
}

/** Scenarios that crash platform nodes through the fault seam. */
export const FAILOVER_TAG = '@failover';

/** Scenarios that tell a third-party provider (speech-to-text) what to answer. */
export const STUBBED_PROVIDER_TAG = '@stubbed-provider';

/** Evaluates a tag expression against the feature files, as Cucumber would, and maps the categories. */
export function selectCapabilities(tags: string | undefined, featuresDir = 'features'): Selection {
  if (tags === undefined || tags.trim() === '')
    return { capabilities: [...EVERYTHING], stubbedProviders: true };
  let parsers: { tagExpressions: TagExpressionsModule; gherkin: GherkinModule };
  try {
    parsers = {
      // Cucumber's own parsers (dependencies of @cucumber/cucumber), loaded only when tags are given.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      tagExpressions: require('@cucumber/tag-expressions') as TagExpressionsModule,
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      gherkin: require('@cucumber/gherkin') as GherkinModule,
    };
  } catch (error) {
    return {
      capabilities: [...EVERYTHING],
      note: `could not load Cucumber's tag parser (${(error as Error).message}): checking everything`,
    };
  }
  const expression = parsers.tagExpressions.parse(tags);
  const { Parser, AstBuilder, GherkinClassicTokenMatcher, compile } = parsers.gherkin;
  let nextId = 0;
  const newId = (): string => String((nextId += 1));
  const needed = new Set<Capability>();
  let scenarios = 0;
  let stubbed = false;
  let failover = 0;
  for (const file of featureFiles(featuresDir)) {
    const document = new Parser(new AstBuilder(newId), new GherkinClassicTokenMatcher()).parse(
      readFileSync(file, 'utf8'),
    );
    for (const pickle of compile(document, file, newId)) {
      const names = pickle.tags.map((tag) => tag.name);
      if (!expression.evaluate(names)) continue;
      scenarios += 1;
      if (names.includes(STUBBED_PROVIDER_TAG)) stubbed = true;
      if (names.includes(FAILOVER_TAG)) failover += 1;
      const categories = names.filter((name) => name in CATEGORY_NEEDS);
      const uses = categories.length > 0 ? categories.flatMap((name) => CATEGORY_NEEDS[name]) : EVERYTHING;
      for (const capability of uses) needed.add(capability);
    }
  }
  return {
    capabilities: EVERYTHING.filter((c) => needed.has(c)),
    scenarios,
    ...(stubbed ? { stubbedProviders: true as const } : {}),
    ...(failover > 0 ? { failover } : {}),
  };
}

type TagExpressionsModule = typeof import('@cucumber/tag-expressions');
type GherkinModule = typeof import('@cucumber/gherkin');

function featureFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.feature'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/**
 * The tag expression of a cucumber-js or preflight command line: every `--tags`/`-t` and the
 * tags of every `--profile`/`-p` (from cucumber.js), ANDed as Cucumber does. Undefined when none
 * is given. (Cucumber's parallel workers do not see the command line: they get undefined.)
 */
export function tagsFromArgv(argv: readonly string[], profilesFile = 'cucumber.js'): string | undefined {
  const expressions: string[] = [];
  const profiles: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const inline = /^--(tags|profile)=(.*)$/.exec(arg);
    if (inline) (inline[1] === 'tags' ? expressions : profiles).push(inline[2]);
    else if ((arg === '--tags' || arg === '-t') && argv[i + 1] !== undefined)
      expressions.push(argv[(i += 1)]);
    else if ((arg === '--profile' || arg === '-p') && argv[i + 1] !== undefined)
      profiles.push(argv[(i += 1)]);
  }
  if (profiles.length > 0) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const defined = require(resolve(profilesFile)) as Record<string, { tags?: string } | undefined>;
    for (const profile of profiles) {
      const tags = defined[profile]?.tags;
      if (tags) expressions.push(tags);
    }
  }
  if (expressions.length === 0) return undefined;
  return expressions.length === 1 ? expressions[0] : expressions.map((e) => `(${e})`).join(' and ');
}

/**
 * The tag expression this run selected, as `tagsFromArgv` reads it. A parallel worker's own argv
 * is Cucumber's worker script, without the user's options (`--tags` would be missed and every
 * scenario assumed selected): a worker reads the coordinator's, its parent's, command line.
 */
export function selectedTags(
  argv: readonly string[] = process.argv,
  env: NodeJS.ProcessEnv = process.env,
  coordinatorArgv: () => readonly string[] | undefined = parentCommandLine,
): string | undefined {
  return tagsFromArgv(env.CUCUMBER_WORKER_ID === undefined ? argv : (coordinatorArgv() ?? argv));
}

/** The parent process's arguments, from Linux's /proc (undefined elsewhere: the worker's own then). */
function parentCommandLine(): string[] | undefined {
  const file = `/proc/${process.ppid}/cmdline`;
  return existsSync(file) ? readFileSync(file, 'utf8').split('\0').filter(Boolean) : undefined;
}
