/**
 * IAM decisions as AWS makes them, by a maintained evaluator (`@cloud-copilot/iam-simulate`:
 * identity and resource policies, every condition operator, same-account rules), over the
 * policies the template deploys. Written here: only the request's shape.
 */
import {
  anonymousPrincipal,
  runSimulation,
  runUnsafeSimulation,
  type Simulation,
} from '@cloud-copilot/iam-simulate';
import { LOCAL_ACCOUNT } from '../cfn.ts';
import type { TemplatePolicies } from './policies.ts';

export type IamDecision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

export interface IamRequest {
  /** A role ARN, a service principal (`cloudwatch.amazonaws.com`), or `anonymous` (a public Function URL). */
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  /** Condition keys the request carries (`aws:SourceArn`, `s3:prefix`, …); `aws:SecureTransport` is always true here. */
  readonly context?: Record<string, string | string[]>;
}

/**
 * Actions the Service Authorization Reference lists without a resource type ("*" only),
 * which AWS nevertheless judges against the state machine the task token belongs to: its
 * denials name it (`not authorized to perform: states:SendTaskFailure on resource:
 * arn:aws:states:…:stateMachine:…`), and a grant on that ARN works (CDK's own grant). The
 * evaluator's reference check is skipped for them; the policies are still evaluated.
 */
const JUDGED_ON_THE_STATE_MACHINE = new Set([
  'states:SendTaskSuccess',
  'states:SendTaskFailure',
  'states:SendTaskHeartbeat',
]);

export async function authorize(policies: TemplatePolicies, request: IamRequest): Promise<IamDecision> {
  const isRole = request.principal.startsWith('arn:');
  const simulation: Simulation = {
    request: {
      principal: request.principal === 'anonymous' ? anonymousPrincipal : request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: LOCAL_ACCOUNT },
      contextVariables: { 'aws:SecureTransport': 'true', ...request.context },
    },
    identityPolicies: isRole ? [...policies.identityPolicies(request.principal)] : [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(policies.resourcePolicy(request.resource)
      ? { resourcePolicy: policies.resourcePolicy(request.resource) }
      : {}),
  };
  if (JUDGED_ON_THE_STATE_MACHINE.has(request.action)) return runUnsafeSimulation(simulation, {});
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') {
    throw new Error(
      `IAM evaluation of ${request.action} on ${request.resource} failed: ${result.errors.message}`,
    );
  }
  return result.overallResult;
}
