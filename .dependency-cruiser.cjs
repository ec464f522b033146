// The layers of src/, bottom to top, and what each may import (docs/architecture.md draws them).
// A folder imports only from the folders listed for it; everything else is "upward" or sideways
// and is refused. Type-only imports count too: a type is owned by the layer that produces it.
//
//   composition   src/roles/, src/cli/                 the process roles (serve, work) and the command; may import anything
//   http          routes, auth, answers                  → ingest, sync, upstream, fhir, records, metrics, runtime, foundation
//   ingest        prepare (pure) + accept (I/O)          → fhir, records, indicators, sync, metrics, foundation
//   sync          the store, the queues, the worker      → upstream, records, indicators, metrics, locks, foundation
//   upstream      pushing one Bundle to one upstream     → locks, foundation
//   fhir          mapping a record to FHIR resources     → records, indicators, foundation
//   records       the record vocabulary and its checks   → indicators, foundation
//   indicators    reference calculators (WHO growth,     → foundation
//                 the schedule, screening risk, history)
//   metrics       the Prometheus registry                → errors, config
//   runtime       data directory, private Redis          → config, log, errors
//   locks         the one Redis lock (dispatcher leader, → nothing of the gateway
//                 SATUSEHAT token mutex)
//   foundation    config, errors, log, tables            config, log and tables import nothing above them
const layers = {
  http: ['ingest', 'sync', 'upstream', 'fhir', 'records', 'metrics', 'runtime', 'config', 'errors', 'log', 'tables'],
  ingest: ['fhir', 'records', 'indicators', 'sync', 'metrics', 'config', 'errors', 'log', 'tables'],
  sync: ['upstream', 'records', 'indicators', 'metrics', 'locks', 'config', 'errors', 'log', 'tables'],
  upstream: ['locks', 'config', 'errors', 'log', 'tables'],
  fhir: ['records', 'indicators', 'config', 'errors', 'tables'],
  records: ['indicators', 'config', 'errors', 'tables'],
  indicators: ['config', 'errors', 'tables'],
  metrics: ['config', 'errors'],
  runtime: ['config', 'errors', 'log'],
  locks: [],
  errors: ['config', 'tables'],
  tables: ['config'],
  config: [],
  log: [],
};

const layerRules = Object.entries(layers).map(([layer, allowed]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer}/ may import only from ${allowed.length ? allowed.join(', ') : 'itself'} (see the table in .dependency-cruiser.cjs)`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: '^src/', pathNot: `^src/(${[layer, ...allowed].join('|')})/` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle: the files (or folders) cannot be read or changed one at a time',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'no-composition-below',
      comment: 'only the entries (cli, roles) may import the composition',
      severity: 'error',
      from: { path: '^src/(?!cli/|roles/)' },
      to: { path: '^src/(cli/|roles/)' },
    },
    {
      name: 'not-to-tests',
      comment: 'the gateway never imports its tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
