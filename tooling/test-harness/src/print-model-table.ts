// `pnpm models:table`: the regression table in the docs' format (README.md shows this output).
import { modelTableMarkdown } from './model-table.js';

process.stdout.write(`${modelTableMarkdown()}\n`);
