// The CLI reference page, written from the command tree the `qgrain` binary itself parses with,
// so the page cannot list a flag the tool does not have or miss one it does.
import type { Argument, Command, Option } from 'commander';

/** One thing on the command line that a reader needs explained. */
export interface CliItem {
  /** Where it lives: `qgrain`, `qgrain quantize`... */
  readonly command: string;
  /** `--json`, `<model>`, or the command name itself. */
  readonly item: string;
  readonly description: string;
}

function visibleOptions(command: Command): readonly Option[] {
  return command.options.filter((option) => !option.hidden);
}

function subcommands(command: Command): readonly Command[] {
  // commander adds an implicit `help` command only while formatting help; the ones listed here are
  // the ones the program registered.
  return command.commands.filter((sub) => !(sub as Command & { _hidden?: boolean })._hidden);
}

function fullName(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Every command, argument and option with the description a reader will see (maybe empty). */
export function cliItems(program: Command): CliItem[] {
  const items: CliItem[] = [];
  const visit = (command: Command) => {
    const name = fullName(command);
    items.push({ command: name, item: name, description: command.description() });
    for (const argument of command.registeredArguments) {
      items.push({ command: name, item: `<${argument.name()}>`, description: argument.description });
    }
    for (const option of visibleOptions(command)) {
      items.push({ command: name, item: option.long ?? option.flags, description: option.description });
    }
    for (const sub of subcommands(command)) visit(sub);
  };
  visit(program);
  return items;
}

// Prose in a table cell: a pipe would end the cell, `<input>` would be read as an HTML tag (VitePress
// compiles pages as Vue templates), `*` and `_` as emphasis, `{{` as a Vue interpolation.
function cell(text: string): string {
  return text
    .replace(/\n+/g, ' ')
    .replace(/[|*_]/g, (c) => `\\${c}`)
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\{\{/g, '{ {');
}

// Code in a table cell: only the pipe needs escaping (tables split rows before code spans).
function code(text: string): string {
  return `\`${text.replace(/\|/g, '\\|')}\``;
}

function argumentUsage(argument: Argument): string {
  const name = `${argument.name()}${argument.variadic ? '...' : ''}`;
  return argument.required ? `<${name}>` : `[${name}]`;
}

function optionDefault(option: Option): string {
  const parts: string[] = [];
  if (option.argChoices) parts.push(`one of ${option.argChoices.map(code).join(', ')}`);
  // Negated flags (`--no-fold-bn`) default to true; saying so only confuses.
  if (option.defaultValue !== undefined && !option.negate) {
    const value = option.defaultValue;
    parts.push(
      `default ${code(option.defaultValueDescription ?? (typeof value === 'string' ? value : JSON.stringify(value)))}`,
    );
  }
  return parts.join('; ');
}

function optionsTable(options: readonly Option[], extraRows: readonly string[] = []): string[] {
  if (options.length === 0 && extraRows.length === 0) return [];
  return [
    '| option | meaning | values |',
    '| --- | --- | --- |',
    ...options.map(
      (option) => `| ${code(option.flags)} | ${cell(option.description)} | ${optionDefault(option)} |`,
    ),
    ...extraRows,
    '',
  ];
}

/** The whole reference page as markdown. */
export function cliReferenceMarkdown(program: Command): string {
  const lines: string[] = [
    '# CLI reference',
    '',
    '<!-- Generated from the qgrain command definitions by apps/docs/scripts/generate.ts; do not edit. -->',
    '',
    `${program.description()}`,
    '',
    '```sh',
    `${program.name()} [global options] <command> [options]`,
    '```',
    '',
    'Exit codes: `0` done, `1` the work failed, `2` the command line was wrong.',
    '',
    '## Global options',
    '',
    'They go before the command name and apply to every command.',
    '',
    ...optionsTable(visibleOptions(program), [
      '| `-h, --help` | print the help of the program or of a command | |',
    ]),
  ];
  for (const command of subcommands(program)) {
    const usage = [fullName(command), '[options]', ...command.registeredArguments.map(argumentUsage)].join(
      ' ',
    );
    lines.push(`## ${command.name()}`, '', cell(command.description()), '', '```sh', usage, '```', '');
    if (command.registeredArguments.length > 0) {
      lines.push('| argument | meaning |', '| --- | --- |');
      for (const argument of command.registeredArguments) {
        lines.push(`| ${code(argumentUsage(argument))} | ${cell(argument.description)} |`);
      }
      lines.push('');
    }
    lines.push(...optionsTable(visibleOptions(command)));
  }
  return `${lines.join('\n')}\n`;
}
