/**
 * The local runtime refuses what AWS IAM refuses: each function's calls are judged against
 * its own role in the synthesized template. Take one grant away and the workflow fails
 * with AccessDenied where it passed.
 */
import { describe, expect, it } from 'vitest';
import type { LocalRuntimeOptions } from '#local/runtime/runtime';
import { mp4 } from '#local/media';
import { ingestAll, startRuntime } from '../helpers/runtime.ts';

type Resources = Parameters<NonNullable<LocalRuntimeOptions['editTemplate']>>[0]['Resources'];
type Statement = { Action: string | string[]; Effect: string; Resource: unknown };

/** Removes `action` from the identity policies of the function whose handler is `handler`. */
function withoutGrant(handler: string, action: string) {
  return (template: { Resources: Resources }) => {
    const [, fn] =
      Object.entries(template.Resources).find(
        ([, resource]) =>
          resource.Type === 'AWS::Lambda::Function' &&
          (resource as { Metadata?: Record<string, unknown> }).Metadata?.['VideoGenIngest:Handler'] ===
            handler,
      ) ?? [];
    const roleId = (fn?.Properties?.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    let removed = 0;
    for (const resource of Object.values(template.Resources)) {
      if (
        resource.Type !== 'AWS::IAM::Policy' ||
        !JSON.stringify(resource.Properties?.Roles).includes(roleId)
      )
        continue;
      const document = resource.Properties?.PolicyDocument as { Statement: Statement[] };
      for (const statement of document.Statement) {
        const actions = [statement.Action].flat();
        if (!actions.includes(action)) continue;
        statement.Action = actions.filter((candidate) => candidate !== action);
        removed += 1;
      }
      document.Statement = document.Statement.filter((statement) => [statement.Action].flat().length > 0);
    }
    if (removed === 0) throw new Error(`${handler} has no ${action} grant to remove`);
  };
}

/** Removes API Gateway's lambda:InvokeFunction permission on the webhook function. */
function withoutApiGatewayInvokePermission(template: { Resources: Resources }) {
  template.Resources = Object.fromEntries(
    Object.entries(template.Resources).filter(
      ([, resource]) =>
        !(
          resource.Type === 'AWS::Lambda::Permission' &&
          resource.Properties?.Principal === 'apigateway.amazonaws.com'
        ),
    ),
  );
}

describe('IAM in the local runtime', () => {
  it('passes the workflow with the template as synthesized, refusing nothing', async () => {
    const runtime = await startRuntime();
    try {
      const records = await ingestAll(runtime, { 'iam/ok.mp4': { body: mp4() } });
      expect(records['iam/ok.mp4']?.status).toMatch(/READY|ANALYZED/);
      expect(runtime.iam?.denials).toEqual([]);
    } finally {
      await runtime.stop();
    }
  });

  it('fails the workflow with AccessDeniedException when a function loses one grant', async () => {
    const runtime = await startRuntime({ editTemplate: withoutGrant('transfer', 'dynamodb:UpdateItem') });
    try {
      const records = await ingestAll(runtime, { 'iam/denied.mp4': { body: mp4() } });
      expect(records['iam/denied.mp4']).toMatchObject({
        status: 'FAILED',
        error: { code: 'AccessDeniedException', message: expect.stringMatching(/dynamodb:UpdateItem/) },
      });
      expect(runtime.iam?.denials.map((denial) => denial.action)).toContain('dynamodb:UpdateItem');
      expect(runtime.iam?.denials[0]?.principal).toMatch(/assumed-role\/.*Transfer/);
    } finally {
      await runtime.stop();
    }
  });

  it('answers the webhook 500, as API Gateway does, when it may not invoke the function: polling carries the file', async () => {
    const runtime = await startRuntime({
      editTemplate: withoutApiGatewayInvokePermission,
      pollAfterSeconds: 1,
    });
    try {
      const answer = await fetch(runtime.webhookUrl, { method: 'POST', body: '{}' });
      expect(answer.status).toBe(500);
      expect(runtime.iam?.denials.map((denial) => denial.action)).toContain('lambda:InvokeFunction');
      const records = await ingestAll(runtime, { 'iam/url.mp4': { body: mp4() } });
      expect(records['iam/url.mp4']?.status).toMatch(/READY|ANALYZED/);
      expect(runtime.stepFunctions.executions()[0]?.statesEntered).toHaveProperty('Poll');
    } finally {
      await runtime.stop();
    }
  });
});
