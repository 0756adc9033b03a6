/**
 * The `videogen-ingest` command line: the operations, which work on a deployed stack or on a
 * local runtime's folder. The local runtime's CLI (`videogen-ingest-local`) lists them too.
 */
import type { Command, CommandLine } from '../cli/commands.ts';

/** The operations: each has its usage and its handler in `cli.ts`. */
export type OpsCommandName = 'status' | 'show' | 'retry' | 'replay-dlq' | 'reconcile';

export const OPERATIONS_GROUP = 'operations';

const opsCli = () => import('./cli.ts');

function operation(name: OpsCommandName, summary: string, banner: string): Command {
  return {
    name,
    summary,
    group: OPERATIONS_GROUP,
    banner,
    usage: async () => (await opsCli()).OPS_USAGES[name],
    run: async (args) => (await opsCli()).runOps(name, args),
  };
}

export const OPS_COMMANDS: readonly Command[] = [
  operation('status', 'list ingests by status', 'status'),
  operation('show', "one ingest's record and event history", 'show KEY'),
  operation('retry', 'restart a FAILED or TIMED_OUT ingest (--status S: every one in S)', 'retry KEY'),
  operation('replay-dlq', 'move dead-lettered S3 events back to the ingest queue', 'replay-dlq'),
  operation('reconcile', 'ingest again the objects that have no record; list unfinished ones', 'reconcile'),
];

export const OPERATIONS_HEADING =
  'Operations (on the local runtime, one started with --state-dir DIR, or a deployed stack with --stack NAME):';

export const OPS_COMMAND_LINE: CommandLine = {
  program: 'videogen-ingest',
  commands: OPS_COMMANDS,
  groups: [{ group: OPERATIONS_GROUP, heading: OPERATIONS_HEADING }],
};

/** The operations as `start`'s banner names them: `status`, `show KEY`, … */
export function operationBanners(): string[] {
  return OPS_COMMANDS.flatMap((command) => (command.banner ? [command.banner] : []));
}
