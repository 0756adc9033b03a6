/**
 * A command line as one table: the overview `--help` prints, the dispatch and the errors'
 * form all come from the commands listed, so a new command is one entry of its CLI's table.
 * Each command's module loads only when it runs or shows its usage: the local runtime's
 * takes a second to load, which `status` or `--help` never need.
 */
import { UsageError } from './args.ts';

export interface Command {
  readonly name: string;
  /** Its line in the overview (a second line, when it has one, is indented under it). */
  readonly summary: string;
  /** The overview's section it is listed in. */
  readonly group: string;
  /** How `start`'s banner names an operation (`show KEY`). */
  readonly banner?: string;
  usage(): Promise<string>;
  /** Runs it; answers the exit code. */
  run(args: readonly string[]): Promise<number>;
}

/** An error the operator fixes, whose message says how: printed without its name or stack. */
export class OperatorError extends Error {
  override readonly name: string = 'OperatorError';
}

export interface CommandLine {
  /** The program's name, as its usage and its errors name it. */
  readonly program: string;
  readonly commands: readonly Command[];
  /** The overview's sections, in order: each group and its heading. */
  readonly groups: readonly { readonly group: string; readonly heading: string }[];
}

export function commandNamed(cli: CommandLine, name: string | undefined): Command | undefined {
  return cli.commands.find((command) => command.name === name);
}

/** `<program> --help`: every command of the table, by group. */
export function overview(cli: CommandLine): string {
  const width = Math.max(...cli.commands.map((command) => command.name.length)) + 1;
  const lines = (group: string) =>
    cli.commands
      .filter((command) => command.group === group)
      .flatMap((command) => {
        const [first = '', ...rest] = command.summary.split('\n');
        return [
          `  ${command.name.padEnd(width)} ${first}`,
          ...rest.map((line) => `  ${''.padEnd(width)} ${line}`),
        ];
      });
  return [
    `Usage: ${cli.program} <command> [options]`,
    ...cli.groups.flatMap(({ group, heading }) => ['', heading, ...lines(group)]),
    '',
    `Run "${cli.program} <command> --help" for a command's options.`,
  ].join('\n');
}

/** Runs the command `argv` names; answers the exit code, with errors printed as the program's. */
export async function runCommandLine(cli: CommandLine, argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  try {
    if (name === undefined) {
      console.error(overview(cli));
      return 2;
    }
    if (name === '-h' || name === '--help' || name === 'help') {
      console.log(overview(cli));
      return 0;
    }
    const command = commandNamed(cli, name);
    if (!command) throw new UsageError(`unknown command "${name}"`);
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${cli.program}: ${error.message}\n`);
      console.error((await commandNamed(cli, name)?.usage()) ?? overview(cli));
      return 2;
    }
    console.error(
      `${cli.program}: ${error instanceof OperatorError ? error.message : error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
    return 1;
  }
}
