import { z } from 'zod';
import { createDocumentClient, createSfnClient } from '#shared/clients';
import { env, loadConfig } from '#shared/config';
import { logger } from '#shared/powertools';
import { stepFunctionsTask } from '#shared/task-handler';
import { awaitFile } from './await-file.ts';

const config = loadConfig({ TABLE_NAME: env.tableName });
const deps = {
  store: { client: createDocumentClient(), tableName: config.TABLE_NAME },
  sfn: createSfnClient(),
  now: () => new Date().toISOString(),
};

export const handler = stepFunctionsTask(
  z.object({ pk: z.string().min(1), taskToken: z.string().min(1) }),
  async (input) => {
    const result = await awaitFile(deps, input);
    logger.info(result.stored ? 'waiting for readiness' : 'already settled; resumed at once');
    return result;
  },
);
