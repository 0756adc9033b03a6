import { afterEach, describe, expect, it, vi } from 'vitest';
import { commandNamed, overview, runCommandLine, type CommandLine } from '#cli/commands';
import { UsageError } from '#cli/args';
import { LOCAL_COMMAND_LINE } from '#local/commands';
import { OPS_COMMAND_LINE, OPS_COMMANDS, operationBanners } from '#ops/commands';
import { OpsError } from '#ops/target';

describe.each([LOCAL_COMMAND_LINE, OPS_COMMAND_LINE])('the command table of $program', (cli) => {
  it('gives --help a line for every command, and every command a usage of its own', async () => {
    const help = overview(cli);
    expect(help.split('\n')[0]).toBe(`Usage: ${cli.program} <command> [options]`);
    for (const command of cli.commands) {
      expect(help).toMatch(new RegExp(`^  ${command.name} +\\S`, 'm'));
      // An operation's usage names the construct's command, which the local one also answers to.
      const program = command.group === 'operations' ? 'videogen-ingest' : cli.program;
      expect(await command.usage()).toMatch(new RegExp(`^Usage: ${program} ${command.name}\\b`));
    }
  });

  it('finds a command by its name only', () => {
    expect(commandNamed(cli, 'show')?.group).toBe('operations');
    expect(commandNamed(cli, '--help')).toBeUndefined();
    expect(commandNamed(cli, undefined)).toBeUndefined();
  });
});

describe('the two command lines', () => {
  it('share the operations: the local one has every one of them, after its own commands', () => {
    expect(OPS_COMMAND_LINE.commands.map((command) => command.name)).toEqual([
      'status',
      'show',
      'retry',
      'replay-dlq',
      'reconcile',
    ]);
    expect(LOCAL_COMMAND_LINE.commands.map((command) => command.name)).toEqual([
      'start',
      'run',
      'sim',
      'bundle',
      ...OPS_COMMANDS.map((command) => command.name),
    ]);
  });

  it("lists every operation in start's banner, by the name it is run with", () => {
    expect(operationBanners().map((banner) => banner.split(' ')[0])).toEqual(
      OPS_COMMANDS.map((command) => command.name),
    );
  });
});

describe('runCommandLine', () => {
  const errors: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    errors.length = 0;
  });
  const failing = (error: Error): CommandLine => ({
    program: 'tool',
    commands: [
      {
        name: 'go',
        summary: 'goes',
        group: 'main',
        usage: () => Promise.resolve('Usage: tool go'),
        run: () => Promise.reject(error),
      },
    ],
    groups: [{ group: 'main', heading: 'Commands:' }],
  });
  const run = (cli: CommandLine, argv: string[]) => {
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => void errors.push(String(line)));
    return runCommandLine(cli, argv);
  };

  it('answers 2 with the usage of the command for a wrong argument', async () => {
    expect(await run(failing(new UsageError('--x takes a number')), ['go'])).toBe(2);
    expect(errors).toEqual(['tool: --x takes a number\n', 'Usage: tool go']);
  });

  it('answers 2 with the overview for an unknown command, and for none', async () => {
    expect(await run(failing(new Error('not run')), ['went'])).toBe(2);
    expect(errors[0]).toBe('tool: unknown command "went"\n');
    expect(errors[1]).toMatch(/^Usage: tool <command>/);
    expect(await run(failing(new Error('not run')), [])).toBe(2);
  });

  it("answers 1 with an operator's error as its message, anything else with its name", async () => {
    expect(await run(failing(new OpsError('no stack Foo in eu-west-1')), ['go'])).toBe(1);
    expect(await run(failing(new TypeError('x is undefined')), ['go'])).toBe(1);
    expect(errors).toEqual(['tool: no stack Foo in eu-west-1', 'tool: TypeError: x is undefined']);
  });
});
