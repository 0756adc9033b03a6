import type { Template } from 'aws-cdk-lib/assertions';

/** A CloudFormation token inside the definition: `{ "Fn::GetAtt": [...] }` or `{ "Ref": ... }`. */
export type CfnToken = Readonly<Record<string, unknown>>;

export interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly Next?: string;
  readonly End?: boolean;
  readonly TimeoutSeconds?: number;
  readonly Retry?: readonly {
    ErrorEquals: string[];
    MaxAttempts?: number;
    IntervalSeconds?: number;
    BackoffRate?: number;
    MaxDelaySeconds?: number;
    JitterStrategy?: string;
  }[];
  readonly Catch?: readonly { ErrorEquals: string[]; Next: string; ResultPath?: string | null }[];
  readonly Choices?: readonly Record<string, unknown>[];
  readonly Default?: string;
  readonly ResultPath?: string | null;
  readonly [field: string]: unknown;
}

export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
  readonly TimeoutSeconds?: number;
}

/**
 * The state machine's definition as the template holds it, with every CloudFormation
 * token (function ARNs, the table name) replaced by what `resolve` answers: the local
 * runtime's names, or readable placeholders in tests.
 */
export function definitionFromTemplate(
  template: Template,
  resolve: (token: CfnToken) => string,
  logicalId?: string,
): AslDefinition {
  const all = template.findResources('AWS::StepFunctions::StateMachine');
  const machines = logicalId === undefined ? Object.values(all) : [all[logicalId]].filter(Boolean);
  if (machines.length !== 1)
    throw new Error(
      logicalId === undefined
        ? `expected one state machine in the template, found ${machines.length}`
        : `no state machine ${logicalId} in the template`,
    );
  const definition = (machines[0] as { Properties: { DefinitionString: unknown } }).Properties
    .DefinitionString;
  const render = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (join) return join[1].map(render).join(join[0]);
    return resolve(value as CfnToken);
  };
  return JSON.parse(render(definition)) as AslDefinition;
}

/** `<Logical.Arn>` / `<Logical>`: a readable stand-in for a token. */
export function placeholderFor(token: CfnToken): string {
  const getAtt = token['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return `<${getAtt.join('.')}>`;
  if (typeof token.Ref === 'string') return `<${token.Ref}>`;
  return JSON.stringify(token);
}
