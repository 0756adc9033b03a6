/** `videogen-ingest`: the operations, on a deployed stack or a local runtime's folder. */
import { runCommandLine } from '../cli/commands.ts';
import { OPS_COMMAND_LINE } from './commands.ts';

process.exitCode = await runCommandLine(OPS_COMMAND_LINE, process.argv.slice(2));
