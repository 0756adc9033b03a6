/**
 * The default stack's template and workflow, synthesized once per process for the
 * infrastructure tests, and what they read of it: a function by its handler, its role's
 * statements and actions.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { HANDLER_METADATA_KEY } from '../../lib/handlers.ts';
import { synthesizeStack } from '#local/synth';
import {
  definitionFromTemplate,
  placeholderFor,
  type AslDefinition,
} from '#local/services/step-functions/definition-from-template';

export const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

let synthesized: { template: Template; definition: AslDefinition } | undefined;

/** The default stack (`LOCAL_STACK_PROPS`), unbundled: its template and its workflow definition. */
export function defaultStack(): { template: Template; definition: AslDefinition } {
  if (!synthesized) {
    const { template } = synthesizeStack();
    synthesized = { template, definition: definitionFromTemplate(template, placeholderFor) };
  }
  return synthesized;
}

/** A project function's logical ID, by the handler its metadata names. */
export function functionIdOf(template: Template, handler: string): string {
  const found = Object.entries(template.findResources('AWS::Lambda::Function')).find(
    ([, resource]) =>
      (resource as { Metadata?: Record<string, unknown> }).Metadata?.[HANDLER_METADATA_KEY] === handler,
  );
  if (!found) throw new Error(`no function for handler ${handler}`);
  return found[0];
}

/** Every IAM statement of a function's role, by its handler. */
export function statementsOf(
  template: Template,
  handler: string,
): { Action: string | string[]; Resource: unknown }[] {
  const fnId = functionIdOf(template, handler);
  const fn = template.findResources('AWS::Lambda::Function')[fnId] as {
    Properties: { Role: { 'Fn::GetAtt': [string, string] } };
  };
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) =>
      JSON.stringify((policy as { Properties: { Roles: unknown } }).Properties.Roles).includes(roleId),
    )
    .flatMap(
      (policy) =>
        (
          policy as {
            Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } };
          }
        ).Properties.PolicyDocument.Statement,
    );
}

/** A function's actions, by its handler: X-Ray's and its own logs' left out. */
export function actionsOf(template: Template, handler: string): string[] {
  return statementsOf(template, handler)
    .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]))
    .filter((action) => !action.startsWith('xray:') && !action.startsWith('logs:'))
    .sort();
}
