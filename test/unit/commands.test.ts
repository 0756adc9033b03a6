import { describe, expect, it } from 'vitest';
import { COMMANDS, commandNamed, operationBanners, overview } from '#local/commands';

describe('the command table', () => {
  it('gives --help a line for every command, and every command a usage of its own', async () => {
    const help = overview();
    for (const command of COMMANDS) {
      expect(help).toMatch(new RegExp(`^  ${command.name} +\\S`, 'm'));
      expect(await command.usage()).toMatch(new RegExp(`^Usage: videogen-ingest ${command.name}\\b`));
    }
  });

  it("lists every operation in start's banner, by the name it is run with", () => {
    const operations = COMMANDS.filter((command) => command.group === 'operations');
    expect(operationBanners().map((banner) => banner.split(' ')[0])).toEqual(
      operations.map((command) => command.name),
    );
  });

  it('finds a command by its name only', () => {
    expect(commandNamed('show')?.group).toBe('operations');
    expect(commandNamed('--help')).toBeUndefined();
    expect(commandNamed(undefined)).toBeUndefined();
  });
});
