export { createProgram, main } from './program.js';
export { type CliIO, processIO } from './io.js';
export { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './exit.js';
export { type InspectResult, inspectJson, inspectText } from './inspect-report.js';
export { inspectModel } from './commands/inspect.js';
export { WEIGHT_SQNR_FLOOR_DB } from '@qgrain/pipeline';
