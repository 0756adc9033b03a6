/**
 * Resolves the CloudFormation tokens of the synthesized template (`Ref`, `Fn::GetAtt`,
 * `Fn::Join`, `Fn::Sub`, pseudo parameters) to the local runtime's names, so handlers get the
 * environment and the workflow gets the function ARNs that `cdk deploy` would give them.
 */
import type { Template } from 'aws-cdk-lib/assertions';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

export interface LocalNames {
  /** The local value of `Ref` to a resource of the template, by its logical id. */
  ref(logicalId: string, type: string): string;
  /** The local value of `Fn::GetAtt`. */
  getAtt(logicalId: string, attribute: string, type: string): string;
}

export function cfnResolver(template: Template, names: LocalNames): (value: unknown) => string {
  const resources = template.toJSON().Resources as Record<string, { Type: string }>;
  const typeOf = (logicalId: string): string => {
    const resource = resources[logicalId];
    if (!resource) throw new Error(`the template has no resource ${logicalId}`);
    return resource.Type;
  };
  const resolve = (value: unknown): string => {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    const token = value as Record<string, unknown>;
    if (typeof token.Ref === 'string') {
      return PSEUDO[token.Ref] ?? names.ref(token.Ref, typeOf(token.Ref));
    }
    const getAtt = token['Fn::GetAtt'];
    if (Array.isArray(getAtt)) {
      const [logicalId, attribute] = getAtt as [string, string];
      return names.getAtt(logicalId, attribute, typeOf(logicalId));
    }
    const join = token['Fn::Join'] as [string, unknown[]] | undefined;
    if (join) return join[1].map(resolve).join(join[0]);
    const sub = token['Fn::Sub'];
    if (typeof sub === 'string') {
      return sub.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
        const [logicalId = '', attribute] = name.split('.');
        return resolve(attribute ? { 'Fn::GetAtt': [logicalId, attribute] } : { Ref: name });
      });
    }
    throw new Error(`cannot resolve ${JSON.stringify(value)} locally`);
  };
  return resolve;
}
