import { fileURLToPath } from 'node:url';
import { describeReadmeExamples } from '@qgrain/test-harness';

describeReadmeExamples(fileURLToPath(new URL('..', import.meta.url)));
