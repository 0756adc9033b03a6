#!/usr/bin/env node
/**
 * `videogen-ingest`: the project's command line. `start` is what `npm start` runs, `sim`
 * what `npm run sim` runs, `run` the one-shot form of `start`.
 */
// Each command's module is loaded when it runs: the local runtime's (emulators, IAM, the
// CDK's template reader) takes a second to load, which `sim`, `status` or `--help` never need.
import path from 'node:path';
import { UsageError } from './cli-args.ts';

const USAGE = `Usage: videogen-ingest <command> [options]

Commands:
  start    run the ingest locally: drop files into ./drop, watch them become VideoGen files
  run      ingest the given files on a throwaway local stack and print their records
           (both take --app DIR: your own CDK app's stack, its stream subscribers included)
  sim      serve the VideoGen API simulator alone
  bundle   bundle the functions as cdk deploy does and synthesize the default stack, into the cache start and run use
           (npm ci does it once; start does it again after a change to lambdas/)

Operations (on the local runtime, one started with --state-dir DIR, or a deployed stack with --stack NAME):
  status      list ingests by status
  show        one ingest's record and event history
  retry       restart a FAILED or TIMED_OUT ingest (--status S: every one in S)
  replay-dlq  move dead-lettered S3 events back to the ingest queue
  reconcile   ingest again the objects that have no record; list unfinished ones

Run "videogen-ingest <command> --help" for a command's options.`;

/** The usage of a command (its own module's), or the overview. */
async function usageOf(command: string | undefined): Promise<string> {
  switch (command) {
    case 'start':
    case 'run': {
      const { RUN_USAGE, START_USAGE } = await import('./runtime/cli-options.ts');
      return command === 'start' ? START_USAGE : RUN_USAGE;
    }
    case 'sim':
      return (await import('./simulator/cli.ts')).SIM_USAGE;
    default:
      return (await import('./ops/cli.ts')).OPS_USAGES[command ?? ''] ?? USAGE;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'start':
      await (await import('./runtime/cli.ts')).runStart(args);
      // Stopped cleanly (state saved, emulators closed). Timers outlive the stop when it cut
      // files off mid-way (a dozen Timeouts, most likely the workflow emulator's retry waits of
      // the aborted executions) and would hold the process: nothing is left to do, so leave.
      return process.exit(0);
    case 'run':
      return (await import('./runtime/cli.ts')).runOnce(args);
    case 'sim':
      await (await import('./simulator/cli.ts')).runSimulator(args);
      return 0;
    case 'bundle': {
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
    }
    case '-h':
    case '--help':
    case 'help':
      console.log(USAGE);
      return 0;
    case 'status':
    case 'show':
    case 'retry':
    case 'replay-dlq':
    case 'reconcile':
      return (await import('./ops/cli.ts')).runOps(command, args);
    case undefined:
      console.error(USAGE);
      return 2;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  async (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`videogen-ingest: ${error.message}\n`);
      console.error(await usageOf(process.argv[2]));
      process.exitCode = 2;
      return;
    }
    // An OpsError is for the operator to fix and says how; anything else is shown as thrown.
    const { OpsError } = await import('./ops/target.ts');
    console.error(
      `videogen-ingest: ${error instanceof OpsError || !(error instanceof Error) ? String(error instanceof Error ? error.message : error) : `${error.name}: ${error.message}`}`,
    );
    process.exitCode = 1;
  },
);
