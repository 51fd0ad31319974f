// The API reference: typedoc reads each package's public entry (src/index.ts) with the doc
// comments in the sources, and typedoc-plugin-markdown writes one page per package.
import { join, resolve } from 'node:path';
import {
  Application,
  type DeclarationReflection,
  type ProjectReflection,
  ReflectionKind,
  type TypeDocOptions,
} from 'typedoc';

const docsDir = resolve(import.meta.dirname, '..');
const packagesDir = resolve(docsDir, '../../packages');

/** The published libraries, in dependency order; the reference has one page each. */
export const API_PACKAGES = ['tensor', 'granularity', 'observers', 'onnx', 'wasm', 'pipeline'] as const;

/** Where the generated markdown goes (inside the site's source folder, ignored by git). */
export const API_OUT_DIR = join(docsDir, 'pages/api');

function typedocOptions(out: string): TypeDocOptions {
  return {
    entryPoints: API_PACKAGES.map((name) => join(packagesDir, name, 'src/index.ts')),
    tsconfig: join(docsDir, 'tsconfig.typedoc.json'),
    plugin: ['typedoc-plugin-markdown'],
    out,
    readme: 'none',
    excludeInternal: true,
    excludePrivate: true,
    // "Defined in" lines and columns double the pages' size; the names lead to the sources anyway.
    disableSources: true,
    // The sources are type-checked by each package's own build.
    skipErrorChecking: true,
    logLevel: 'Error',
    // typedoc-plugin-markdown: one page per package keeps the site small and the build fast.
    outputFileStrategy: 'modules',
    entryFileName: 'index',
    hideBreadcrumbs: true,
    hidePageHeader: true,
    sanitizeComments: true,
    parametersFormat: 'table',
    interfacePropertiesFormat: 'table',
    useCodeBlocks: true,
    tableColumnSettings: { hideModifiers: true, hideSources: true },
    // Pages are named after the package without its scope: api/pipeline.md for @qgrain/pipeline.
    excludeScopesInPaths: true,
  } as TypeDocOptions;
}

/** Converts the packages' sources; the modules are named after their packages. */
export async function convertApi(
  out = API_OUT_DIR,
): Promise<{ app: Application; project: ProjectReflection }> {
  const app = await Application.bootstrapWithPlugins(typedocOptions(out));
  const project = await app.convert();
  if (!project) throw new Error('typedoc could not convert the packages (see the messages above)');
  for (const module of project.children ?? []) {
    const folder = module.name.split('/')[0];
    if (folder && (API_PACKAGES as readonly string[]).includes(folder)) module.name = `@qgrain/${folder}`;
  }
  project.name = 'qgrain API';
  return { app, project };
}

/** Writes the markdown reference. */
export async function writeApiReference(out = API_OUT_DIR): Promise<ProjectReflection> {
  const { app, project } = await convertApi(out);
  await app.generateOutputs(project);
  return project;
}

function hasComment(reflection: {
  comment?: { summary: readonly { text: string }[]; blockTags: readonly unknown[] };
}) {
  const comment = reflection.comment;
  return (
    !!comment && (comment.summary.some((part) => part.text.trim() !== '') || comment.blockTags.length > 0)
  );
}

function isDocumented(reflection: DeclarationReflection): boolean {
  if (hasComment(reflection)) return true;
  if (reflection.signatures?.some(hasComment)) return true;
  if (reflection.getSignature && hasComment(reflection.getSignature)) return true;
  // A re-export under another name: documented where it is declared.
  if (reflection.kindOf(ReflectionKind.Reference)) return true;
  return false;
}

/** Every exported symbol of every package, as `@qgrain/package: name`. */
export function exportedSymbols(project: ProjectReflection): string[] {
  return (project.children ?? []).flatMap((module) =>
    (module.children ?? []).map((symbol) => `${module.name}: ${symbol.name}`),
  );
}

/** Exported symbols with no doc comment of their own (functions count their signatures' comments). */
export function undocumentedExports(project: ProjectReflection): string[] {
  return (project.children ?? []).flatMap((module) =>
    (module.children ?? [])
      .filter((symbol) => !isDocumented(symbol))
      .map((symbol) => `${module.name}: ${symbol.name}`),
  );
}
