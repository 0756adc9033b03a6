/**
 * `videogen-ingest-local`: the local runtime's command line. `start` is what `npm start`
 * runs, `sim` what `npm run sim` runs, `run` the one-shot form of `start`.
 */
import { runCommandLine } from '../cli/commands.ts';
import { LOCAL_COMMAND_LINE } from './commands.ts';

process.exitCode = await runCommandLine(LOCAL_COMMAND_LINE, process.argv.slice(2));
