// Allure 3 configuration for `npm run report` (allure-results/ → allure-report/).
export default {
  name: 'Phase 2 acceptance',
  output: './allure-report',
  // Kept outside allure-results/ (cleared every run), so trends and flakiness span runs.
  historyPath: './reports/allure-history.jsonl',
  historyLimit: 50,
  plugins: {
    awesome: {
      options: {
        reportName: 'Phase 2 acceptance',
        singleFile: false,
        reportLanguage: 'en',
        groupBy: ['epic', 'feature', 'story'],
      },
    },
  },
  // First match wins: an unreachable environment first, then what the platform did wrong, then
  // errors in the suite's own code.
  categories: [
    {
      name: 'Environment: the platform or a double could not be reached',
      matchers: [
        {
          statuses: ['failed', 'broken'],
          message:
            /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|got no HTTP response|test environment did not start|configuration has \d+ problem|[Pp]reflight|no receiver\/transceiver session/,
        },
      ],
    },
    {
      name: 'Platform defect: the platform did not do what the plan says',
      matchers: [
        { statuses: ['failed'] },
        {
          statuses: ['broken'],
          message:
            /Timed out after \d+ ms waiting for|Waited \d+ ms for|Contract violation|answered \d{3}|protocol violation|While ".*" is/,
        },
      ],
    },
    {
      name: "Suite defect: an error in the suite's own code",
      matchers: [{ statuses: ['broken'] }],
    },
  ],
};
