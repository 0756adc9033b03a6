/**
 * The `videogen-ingest` commands, one entry each: the overview `--help` prints, the dispatch
 * in `cli.ts` and the operations `start`'s banner lists all come from this table, so a new
 * command is one entry here (and, for an operation, its usage and handler in `ops/cli.ts`,
 * which the compiler asks for). Each command's module loads only when it runs or shows its
 * usage: the local runtime's takes a second to load, which `status` or `--help` never need.
 */
import path from 'node:path';

/** The operations: each has its usage and its handler in `ops/cli.ts`. */
export type OpsCommandName = 'status' | 'show' | 'retry' | 'replay-dlq' | 'reconcile';

export interface Command {
  readonly name: string;
  /** Its line in the overview (a second line, when it has one, is indented under it). */
  readonly summary: string;
  /** `local` runs the workflow or the simulator here; `operations` work on a local runtime or a deployed stack. */
  readonly group: 'local' | 'operations';
  /** How `start`'s banner names an operation (`show KEY`). */
  readonly banner?: string;
  usage(): Promise<string>;
  /** Runs it; answers the exit code. */
  run(args: readonly string[]): Promise<number>;
}

const runtimeCli = () => import('./runtime/cli.ts');
const runtimeUsage = () => import('./runtime/cli-options.ts');
const opsCli = () => import('./ops/cli.ts');

function operation(name: OpsCommandName, summary: string, banner: string): Command {
  return {
    name,
    summary,
    group: 'operations',
    banner,
    usage: async () => (await opsCli()).OPS_USAGES[name],
    run: async (args) => (await opsCli()).runOps(name, args),
  };
}

export const COMMANDS: readonly Command[] = [
  {
    name: 'start',
    summary: 'run the ingest locally: drop files into ./drop, watch them become VideoGen files',
    group: 'local',
    usage: async () => (await runtimeUsage()).START_USAGE,
    run: async (args) => {
      await (await runtimeCli()).runStart(args);
      // Stopped cleanly (state saved, emulators closed). Timers outlive the stop when it cut
      // files off mid-way (a dozen Timeouts, most likely the workflow emulator's retry waits of
      // the aborted executions) and would hold the process: nothing is left to do, so leave.
      return process.exit(0);
    },
  },
  {
    name: 'run',
    summary:
      "ingest the given files on a throwaway local stack and print their records\n(both take --app DIR: your own CDK app's stack, its stream subscribers included)",
    group: 'local',
    usage: async () => (await runtimeUsage()).RUN_USAGE,
    run: async (args) => (await runtimeCli()).runOnce(args),
  },
  {
    name: 'sim',
    summary: 'serve the VideoGen API simulator alone',
    group: 'local',
    usage: async () => (await import('./simulator/cli.ts')).SIM_USAGE,
    run: async (args) => {
      await (await import('./simulator/cli.ts')).runSimulator(args);
      return 0;
    },
  },
  {
    name: 'bundle',
    summary:
      'bundle the functions as cdk deploy does and synthesize the default stack, into the cache start and run use\n(npm ci does it once; start does it again after a change to lambdas/)',
    group: 'local',
    usage: () => Promise.resolve('Usage: videogen-ingest bundle'),
    run: async () => {
      const started = performance.now();
      const [{ deployedBundles }, { stackSettings, stackTemplate }] = await Promise.all([
        import('./runtime/bundles.ts'),
        import('./runtime/local-stack.ts'),
      ]);
      const bundles = await deployedBundles((line) => console.error(line));
      // The template `start` runs with its defaults, so the first start after `npm ci` synthesizes nothing.
      await stackTemplate(stackSettings({}));
      console.error(
        `${Object.keys(bundles).length} function bundles ready in ${path.dirname(path.dirname(Object.values(bundles)[0] ?? ''))}, and the default stack's template (${Math.round(performance.now() - started)} ms)`,
      );
      return 0;
    },
  },
  operation('status', 'list ingests by status', 'status'),
  operation('show', "one ingest's record and event history", 'show KEY'),
  operation('retry', 'restart a FAILED or TIMED_OUT ingest (--status S: every one in S)', 'retry KEY'),
  operation('replay-dlq', 'move dead-lettered S3 events back to the ingest queue', 'replay-dlq'),
  operation('reconcile', 'ingest again the objects that have no record; list unfinished ones', 'reconcile'),
];

export function commandNamed(name: string | undefined): Command | undefined {
  return COMMANDS.find((command) => command.name === name);
}

/** The operations as `start`'s banner names them: `status`, `show KEY`, … */
export function operationBanners(): string[] {
  return COMMANDS.flatMap((command) => (command.banner ? [command.banner] : []));
}

/** `videogen-ingest --help`: every command of the table, by group. */
export function overview(): string {
  const lines = (group: Command['group'], width: number) =>
    COMMANDS.filter((command) => command.group === group).flatMap((command) => {
      const [first = '', ...rest] = command.summary.split('\n');
      return [
        `  ${command.name.padEnd(width)} ${first}`,
        ...rest.map((line) => `  ${''.padEnd(width)} ${line}`),
      ];
    });
  return [
    'Usage: videogen-ingest <command> [options]',
    '',
    'Commands:',
    ...lines('local', 8),
    '',
    'Operations (on the local runtime, one started with --state-dir DIR, or a deployed stack with --stack NAME):',
    ...lines('operations', 11),
    '',
    'Run "videogen-ingest <command> --help" for a command\'s options.',
  ].join('\n');
}
