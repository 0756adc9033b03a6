import type { VariableName } from '../../../lambdas/shared/environments.ts';
import type { Credentials } from '../../iam/local-iam.ts';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCAL_REGION } from '../../cfn.ts';
import type { LocalFunction } from './lambdas.ts';

const API_URL = 'VIDEOGEN_API_URL' satisfies VariableName;

/**
 * Where Lambda's Node.js runtime keeps the AWS SDK it provides (`/var/runtime/node_modules`
 * on its `NODE_PATH`): here, the node_modules this runtime's own SDK is in. A bundle built
 * with the SDK external (NodejsFunction's default) requires it from there, as on Lambda.
 */
const SDK_ENTRY = fileURLToPath(import.meta.resolve('@aws-sdk/client-dynamodb'));
const PROVIDED_SDK = SDK_ENTRY.slice(0, SDK_ENTRY.lastIndexOf(`${path.sep}@aws-sdk${path.sep}`));

/** What the runtime puts in every function's environment besides the template's variables. */
export interface LocalFunctionSettings {
  readonly apiUrl: string;
  readonly logLevel: string;
  readonly publishMetrics: boolean;
  /** By service, as `AWS_ENDPOINT_URL_<SERVICE>` names them. */
  readonly endpoints: Record<string, string>;
}

/**
 * A function's environment as deployed, with the local API URL and the emulators'
 * endpoints (the SDK's standard `AWS_ENDPOINT_URL_<SERVICE>` variables): its own
 * variables only, as on Lambda.
 */
export function localFunctionVariables(
  fn: LocalFunction,
  local: LocalFunctionSettings,
  credentials: Credentials,
): Record<string, string> {
  // The deployed service name (`<stack>/<construct>`) names nothing here; logs say videogen-ingest.
  const { POWERTOOLS_SERVICE_NAME: _deployedName, ...deployed } = fn.environment;
  // A queue URL names its endpoint (the SDK sends to the URL's host): the local queue's URL instead.
  const deployedQueueUrl = `https://sqs.${LOCAL_REGION}.amazonaws.com/`;
  const variables = Object.fromEntries(
    Object.entries(deployed).map(([name, value]) => [
      name,
      value.startsWith(deployedQueueUrl)
        ? `${local.endpoints.SQS}/${value.slice(deployedQueueUrl.length)}`
        : value,
    ]),
  );
  return {
    ...variables,
    // The template is every runtime's (cached), so it names no runtime's API: this one's goes in here.
    ...(variables[API_URL] === undefined ? {} : { [API_URL]: local.apiUrl }),
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMiB),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    NODE_PATH: PROVIDED_SDK,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...Object.fromEntries(
      Object.entries(local.endpoints).map(([service, endpoint]) => [`AWS_ENDPOINT_URL_${service}`, endpoint]),
    ),
    POWERTOOLS_LOG_LEVEL: local.logLevel,
    POWERTOOLS_METRICS_DISABLED: local.publishMetrics ? 'false' : 'true',
    POWERTOOLS_DEV: 'false',
  };
}
