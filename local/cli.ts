#!/usr/bin/env node
/**
 * `videogen-ingest`: the project's command line. `start` is what `npm start` runs, `sim`
 * what `npm run sim` runs, `run` the one-shot form of `start`.
 */
import { commandNamed, overview } from './commands.ts';
import { UsageError } from './cli-args.ts';

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    console.error(overview());
    return 2;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    console.log(overview());
    return 0;
  }
  const command = commandNamed(name);
  if (!command) throw new UsageError(`unknown command "${name}"`);
  return command.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  async (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`videogen-ingest: ${error.message}\n`);
      console.error((await commandNamed(process.argv[2])?.usage()) ?? overview());
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
