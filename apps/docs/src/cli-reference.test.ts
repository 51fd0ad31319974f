import { createProgram } from 'qgrain';
import { describe, expect, it } from 'vitest';
import { cliItems, cliReferenceMarkdown } from './cli-reference.js';

describe('the CLI reference', () => {
  const program = createProgram();
  const items = cliItems(program);

  it('walks every command of the program', () => {
    const commands = new Set(items.map((i) => i.command));
    for (const name of ['inspect', 'prepare', 'calibrate', 'quantize', 'compare', 'advise']) {
      expect(commands).toContain(`qgrain ${name}`);
    }
  });

  it('has a description for every command, argument and option', () => {
    const missing = items.filter((i) => i.description.trim() === '').map((i) => `${i.command}: ${i.item}`);
    expect(missing, 'add a description in the command definition').toEqual([]);
  });

  it('lists every command, argument and option on the page', () => {
    // Pipes in flags are escaped in the table.
    const page = cliReferenceMarkdown(program).replaceAll('\\|', '|');
    for (const command of program.commands) {
      expect(page).toContain(`## ${command.name()}`);
      for (const option of command.options) expect(page).toContain(`\`${option.flags}\``);
      for (const argument of command.registeredArguments) expect(page).toContain(argument.name());
    }
    for (const option of program.options) expect(page).toContain(`\`${option.flags}\``);
  });
});
