/**
 * IAM for the local runtime, as AWS applies it: every function signs its calls with
 * credentials of its own, the emulators' fronts read the access key from the SigV4
 * header, and the call's action and resource are judged against that function's role
 * (and the target's resource policy) from the synthesized template. Calls signed with
 * the runtime's own credentials are the account owner's (you, with `aws … --endpoint-url`)
 * and are not judged, as an administrator's would pass.
 */
import { createHash } from 'node:crypto';
import type { Template } from 'aws-cdk-lib/assertions';
import type { TemplateArns } from './arns.ts';
import { authorize, type IamRequest } from './authorize.ts';
import { policiesFromTemplate, type TemplatePolicies } from './policies.ts';
import {
  dynamoDbActions,
  s3Action,
  secretsManagerAction,
  sqsAction,
  stepFunctionsAction,
  type ActionOnResource,
} from './service-actions.ts';

/** Refused as AWS refuses: the message names the principal, the action and the resource. */
export class AccessDeniedError extends Error {
  override readonly name = 'AccessDeniedException';
  constructor(
    readonly principal: string,
    readonly action: string,
    readonly resource: string,
  ) {
    super(
      `User: ${principal} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`,
    );
  }
}

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** A call to judge: who signed it (an access key, or a principal already known) and what it does. */
export interface CallToJudge extends Omit<IamRequest, 'principal'> {
  readonly accessKeyId?: string | undefined;
  readonly principal?: string | undefined;
}

const CACHE_LIMIT = 20_000;

/** An IAM resource pattern as a regular expression: `*` any run of characters, `?` any one. */
function patternToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

/** Every `Resource` and `NotResource` pattern of the statements. */
function resourcePatterns(statements: readonly Record<string, unknown>[]): string[] {
  return statements.flatMap((statement) =>
    [statement.Resource, statement.NotResource].flatMap((value) =>
      value === undefined ? [] : (Array.isArray(value) ? value : [value]).map(String),
    ),
  );
}

export class LocalIam {
  readonly policies: TemplatePolicies;
  readonly #roleByAccessKey = new Map<string, string>();
  readonly #decisions = new Map<string, Promise<string>>();
  readonly #classDecisions = new Map<string, Promise<string>>();
  readonly #patterns = new Map<string, RegExp>();
  readonly #identityPatterns = new Map<string, string[]>();
  readonly #policyIds = new Map<object, number>();
  /** Denials so far, newest last (for tests and the runtime's log). */
  readonly denials: AccessDeniedError[] = [];
  /** Decisions the evaluator was asked for (the others came from the cache): for tests and benchmarks. */
  evaluations = 0;

  constructor(template: Template, arns: TemplateArns) {
    this.policies = policiesFromTemplate(template, arns);
  }

  /** Credentials of a resource's role (a function's), which identify it to every front. */
  credentialsFor(logicalId: string): Credentials {
    const role = this.policies.roleOf(logicalId);
    const accessKeyId = `AKIA${createHash('sha256').update(role).digest('hex').slice(0, 16).toUpperCase()}`;
    this.#roleByAccessKey.set(accessKeyId, role);
    return { accessKeyId, secretAccessKey: `local-${accessKeyId.toLowerCase()}` };
  }

  /** The role an access key belongs to; undefined for the account owner's (not judged). */
  roleOfAccessKey(accessKeyId: string | undefined): string | undefined {
    return accessKeyId === undefined ? undefined : this.#roleByAccessKey.get(accessKeyId);
  }

  /** Throws `AccessDeniedError` when AWS would refuse the call; passes the account owner's. */
  async check(call: CallToJudge): Promise<void> {
    const principal = call.principal ?? this.roleOfAccessKey(call.accessKeyId);
    if (!principal) return;
    const request: IamRequest = {
      principal,
      action: call.action,
      resource: call.resource,
      ...(call.context ? { context: call.context } : {}),
    };
    // Two levels: the call as it is (a repeated call costs one lookup, as the table's or the
    // queue's every time), then its resource's class (a new object of a known bucket costs the
    // pattern matching, not the evaluator).
    const key = JSON.stringify(request);
    let decision = this.#decisions.get(key);
    if (!decision) {
      const classKey = JSON.stringify({
        ...request,
        resource: this.#resourceClass(principal, call.resource),
      });
      decision = this.#classDecisions.get(classKey);
      if (!decision) {
        if (this.#classDecisions.size >= CACHE_LIMIT) this.#classDecisions.clear();
        this.evaluations += 1;
        decision = authorize(this.policies, request);
        this.#classDecisions.set(classKey, decision);
      }
      if (this.#decisions.size >= CACHE_LIMIT) this.#decisions.clear();
      this.#decisions.set(key, decision);
    }
    if ((await decision) === 'Allowed') return;
    const denial = new AccessDeniedError(
      principal.replace(/^arn:aws:iam::(\d+):role\/(.+)$/, 'arn:aws:sts::$1:assumed-role/$2/local'),
      call.action,
      call.resource,
    );
    this.denials.push(denial);
    throw denial;
  }

  /**
   * What of `resource` the decision can depend on: which of the policies' resource patterns
   * it matches (and which resource policy governs it). Two objects of one bucket then share
   * a decision, where keyed by their ARNs every file was a miss. A pattern with a policy
   * variable (`${…}`) depends on more than the ARN: the ARN itself is the key then.
   */
  #resourceClass(principal: string, resource: string): string {
    let identity = this.#identityPatterns.get(principal);
    if (!identity) {
      identity = resourcePatterns(
        this.policies.identityPolicies(principal).flatMap(({ policy }) => policy.Statement),
      );
      this.#identityPatterns.set(principal, identity);
    }
    const resourcePolicy = this.policies.resourcePolicy(resource);
    const patterns = [...identity, ...resourcePatterns(resourcePolicy?.Statement ?? [])];
    if (patterns.some((pattern) => pattern.includes('${'))) return resource;
    const matches = patterns.map((pattern) => {
      let compiled = this.#patterns.get(pattern);
      if (!compiled) this.#patterns.set(pattern, (compiled = patternToRegExp(pattern)));
      return compiled.test(resource) ? '1' : '0';
    });
    // Its statements are the template's, one list per governed resource: their identity names the policy.
    const statements = resourcePolicy?.Statement;
    let policyId = statements ? this.#policyIds.get(statements) : 0;
    if (policyId === undefined && statements)
      this.#policyIds.set(statements, (policyId = this.#policyIds.size + 1));
    // Partition, service, region and account: what a condition on the resource could read besides its name.
    return `${resource.split(':').slice(0, 5).join(':')}|${matches.join('')}|${policyId}`;
  }
}

/** The judges the emulators' fronts call, one per service, each mapping a call to its action. */
export function serviceJudges(iam: LocalIam, stateMachineOfToken: (token: string) => string | undefined) {
  const each = (accessKeyId: string | undefined, calls: readonly ActionOnResource[]) =>
    Promise.all(calls.map((call) => iam.check({ accessKeyId, ...call }))).then(() => undefined);
  return {
    s3: async (method: string, url: string, accessKeyId: string | undefined) => {
      const call = s3Action(method, url);
      if (call) return each(accessKeyId, [call]);
      const role = iam.roleOfAccessKey(accessKeyId);
      // A call the local IAM has no action for: refused for a function, so none passes unjudged.
      if (role) throw new AccessDeniedError(role, `s3:${method} ${url} (not modelled locally)`, url);
    },
    dynamodb: (operation: string, body: Record<string, unknown>, accessKeyId: string | undefined) =>
      each(accessKeyId, dynamoDbActions(operation, body)),
    stepFunctions: (operation: string, body: Record<string, unknown>, accessKeyId: string | undefined) =>
      each(accessKeyId, [stepFunctionsAction(operation, body, stateMachineOfToken)]),
    secretsManager: (operation: string, body: Record<string, unknown>, accessKeyId: string | undefined) =>
      each(accessKeyId, [secretsManagerAction(operation, body)]),
    sqs: (operation: string, body: Record<string, unknown>, accessKeyId: string | undefined) =>
      each(accessKeyId, [sqsAction(operation, body)]),
  };
}
