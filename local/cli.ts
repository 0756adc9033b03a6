#!/usr/bin/env node
/**
 * `videogen-ingest`: the project's command line. `start` is what `npm start` runs, `sim`
 * what `npm run sim` runs.
 */
import { runSimulator, SIM_USAGE, UsageError } from './simulator/cli.ts';
import { runStart, START_USAGE } from './start.ts';

const USAGE = `Usage: videogen-ingest <command> [options]

Commands:
  start    run the ingest locally: drop files into ./drop, watch them become VideoGen files
  sim      serve the VideoGen API simulator alone

Run "videogen-ingest <command> --help" for a command's options.`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'start':
      await runStart(args);
      return 0;
    case 'sim':
      await runSimulator(args);
      return 0;
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`videogen-ingest: ${error.message}\n`);
      console.error(
        process.argv[2] === 'sim' ? SIM_USAGE : process.argv[2] === 'start' ? START_USAGE : USAGE,
      );
      process.exitCode = 2;
      return;
    }
    console.error(`videogen-ingest: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
