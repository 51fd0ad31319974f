#!/usr/bin/env node
import { isRunnerWorker, isWeightWorker } from '@qgrain/pipeline';
import { main } from './program.js';

// The single-file CLI is also the script its workers run (see @qgrain/pipeline's weight pool and
// runner pool): there it serves weight tasks or model runs, and the command line is the parent's.
// Setting exitCode (not calling process.exit) lets stdout drain when it is a pipe.
if (!isWeightWorker && !isRunnerWorker) process.exitCode = await main(process.argv.slice(2));
