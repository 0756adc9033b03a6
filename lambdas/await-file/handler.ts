import * as z from 'zod/mini';
import { createDocumentClient } from '#shared/clients/dynamodb';
import { createSfnClient } from '#shared/clients/sfn';
import { loadConfig, nonEmptyString } from '#shared/config';
import { ENVIRONMENTS } from '#shared/environments';
import { logger } from '#shared/powertools';
import { stepFunctionsTask } from '#shared/task-handler';
import { awaitFile } from './await-file.ts';

const config = loadConfig(ENVIRONMENTS['await-file']);
const deps = {
  store: { client: createDocumentClient(), tableName: config.TABLE_NAME },
  sfn: createSfnClient(),
  now: () => new Date().toISOString(),
};

export const handler = stepFunctionsTask(
  z.object({ pk: nonEmptyString(), taskToken: nonEmptyString() }),
  async (input) => {
    const result = await awaitFile(deps, input);
    logger.info(result.stored ? 'waiting for readiness' : 'already settled; resumed at once');
    return result;
  },
);
