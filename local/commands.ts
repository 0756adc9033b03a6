/**
 * The `videogen-ingest-local` command line, one entry a command: the local runtime's
 * commands, then the operations of `videogen-ingest` (`ops/commands.ts`), reachable from
 * here too. `--help`, the dispatch and `start`'s banner all come from this table.
 */
import path from 'node:path';
import { UsageError } from '../cli/args.ts';
import type { Command, CommandLine } from '../cli/commands.ts';
import { OPERATIONS_GROUP, OPERATIONS_HEADING, OPS_COMMANDS } from '../ops/commands.ts';
import { IN_REPOSITORY } from './repository.ts';

const LOCAL_GROUP = 'local';
const runtimeCli = () => import('./runtime/cli.ts');
const runtimeUsage = () => import('./runtime/cli-options.ts');

const LOCAL_COMMANDS: readonly Command[] = [
  {
    name: 'start',
    summary: 'run the ingest locally: drop files into ./drop, watch them become VideoGen files',
    group: LOCAL_GROUP,
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
    group: LOCAL_GROUP,
    usage: async () => (await runtimeUsage()).RUN_USAGE,
    run: async (args) => (await runtimeCli()).runOnce(args),
  },
  {
    name: 'sim',
    summary: 'serve the VideoGen API simulator alone',
    group: LOCAL_GROUP,
    usage: async () => (await import('./simulator/cli.ts')).SIM_USAGE,
    run: async (args) => {
      await (await import('./simulator/cli.ts')).runSimulator(args);
      return 0;
    },
  },
  {
    name: 'bundle',
    summary:
      'bundle the functions as cdk deploy does and synthesize the default stack, into the cache start and run use\n(start and run do it themselves after a change to lambdas/; in this repository only)',
    group: LOCAL_GROUP,
    usage: () => Promise.resolve('Usage: videogen-ingest-local bundle'),
    run: async () => {
      if (!IN_REPOSITORY)
        throw new UsageError(
          "bundle prepares this repository's own stack; your app's functions are bundled by its synth, which start and run do",
        );
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
];

export const LOCAL_COMMAND_LINE: CommandLine = {
  program: 'videogen-ingest-local',
  commands: [...LOCAL_COMMANDS, ...OPS_COMMANDS],
  groups: [
    { group: LOCAL_GROUP, heading: 'Commands:' },
    {
      group: OPERATIONS_GROUP,
      heading: `${OPERATIONS_HEADING}\n(the same as \`videogen-ingest <command>\`, the construct package's command)`,
    },
  ],
};
