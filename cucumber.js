// Cucumber profiles. `npm run bdd -- --profile ci`, `--tags @smoke`, `--parallel 2` all combine with these.
const interactive = Boolean(process.stdout.isTTY) && !process.env.CI;
// One faker seed per run, chosen here so every parallel worker inherits the same one (replay
// a run with PHASE2_FAKER_SEED=<seed>, as printed in the report's environment).
process.env.PHASE2_FAKER_SEED ??= String(Math.floor(Math.random() * 1_000_000) + 1);

const common = {
  requireModule: ['ts-node/register/transpile-only'],
  // support/ is Cucumber's lifecycle (hooks, parameter types); tasks/ and reporting/ load through imports.
  require: ['support/**/*.ts', 'step-definitions/**/*.ts'],
  paths: ['features/**/*.feature'],
  format: [
    // Only one formatter may own stdout: a progress bar for people, plain progress for CI logs.
    interactive ? 'progress-bar' : 'progress',
    'html:reports/cucumber-report.html',
    'junit:reports/junit.xml',
    'message:reports/cucumber-messages.ndjson',
    'allure-cucumberjs/reporter:reports/allure-formatter.out',
  ],
  formatOptions: {
    resultsDir: 'allure-results',
    labels: [
      {
        pattern: [
          /@(voice-sms|api-voice|api-sms|workflows|failover|security|load|data-consistency|journeys)$/,
        ],
        name: 'epic',
      },
      { pattern: [/@severity:(.*)/], name: 'severity' },
    ],
    links: {
      tms: {
        pattern: [/@((?:TEST-INT|JOURNEY)-.*)/],
        // Tags keep their '@'; the plan id in the link must not.
        urlTemplate: (tag) =>
          (process.env.PHASE2_TMS_URL_TEMPLATE || '../docs/test-plan.md#%s').replace(
            '%s',
            tag.replace(/^@/, ''),
          ),
      },
    },
  },
  strict: true,
};

module.exports = {
  default: { ...common, tags: 'not @soak and not @wip' },
  ci: {
    ...common,
    format: common.format.map((f) => (f === 'progress-bar' ? 'progress' : f)),
    tags: 'not @soak and not @wip',
  },
  smoke: { ...common, tags: '@smoke and not @wip' },
  // The scenarios that run behind real Kamailio and rtpengine; `npm run lab` adds the target itself.
  lab: { ...common, tags: '@lab and not @soak and not @wip' },
  // The plan's five-week timeline (docs/test-plan.md): `npm run bdd -- --profile week2`.
  week1: { ...common, tags: '@week1 and not @soak and not @wip' },
  week2: { ...common, tags: '@week2 and not @soak and not @wip' },
  week3: { ...common, tags: '@week3 and not @soak and not @wip' },
  week4: { ...common, tags: '@week4 and not @soak and not @wip' },
  week5: { ...common, tags: '@week5 and not @soak and not @wip' },
};
