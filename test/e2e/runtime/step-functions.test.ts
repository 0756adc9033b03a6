import {
  DescribeExecutionCommand,
  ListStateMachinesCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startStepFunctions, type LocalStepFunctions } from '#local/services/step-functions/step-functions';
import { LOCAL_CREDENTIALS } from '#local/runtime/options';

const ARN = (name: string) => `arn:aws:states:us-east-1:000000000000:stateMachine:${name}`;

/** A machine that hands a task token to a function and waits for its answer. */
const ARCHIVE = {
  stateMachineArn: ARN('archive'),
  definition: {
    StartAt: 'Wait',
    States: {
      Wait: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        Parameters: { FunctionName: 'archive-fn', Payload: { 'token.$': '$$.Task.Token' } },
        End: true,
      },
    },
  },
};

let stepFunctions: LocalStepFunctions | undefined;
afterEach(async () => {
  await stepFunctions?.close();
});

describe('the local Step Functions, with two state machines', () => {
  it('runs each its own definition, lists both, and knows whose a task token is', async () => {
    const calls: { functionArn: string; machine: string; token: string }[] = [];
    stepFunctions = await startStepFunctions({
      machines: [
        {
          stateMachineArn: ARN('library'),
          definition: { StartAt: 'Done', States: { Done: { Type: 'Pass', Result: 'library', End: true } } },
        },
        ARCHIVE,
      ],
      invoke: (functionArn, payload, machine) => {
        calls.push({ functionArn, machine, token: (payload as { token?: string }).token ?? '' });
        return Promise.resolve(null);
      },
    });
    const client = new SFNClient({
      endpoint: stepFunctions.endpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const listed = await client.send(new ListStateMachinesCommand({}));
      expect(listed.stateMachines?.map((machine) => machine.name)).toEqual(['library', 'archive']);

      const library = await client.send(
        new StartExecutionCommand({ stateMachineArn: ARN('library'), name: 'one', input: '{}' }),
      );
      // The same name on another machine is another execution.
      const archive = await client.send(
        new StartExecutionCommand({ stateMachineArn: ARN('archive'), name: 'one', input: '{}' }),
      );
      await expect.poll(() => calls.length).toBe(1);
      expect(calls[0]).toMatchObject({ functionArn: 'archive-fn', machine: ARN('archive') });
      const describe = (executionArn: string | undefined) =>
        client.send(new DescribeExecutionCommand({ executionArn }));
      await expect.poll(async () => (await describe(library.executionArn)).status).toBe('SUCCEEDED');
      const described = await describe(library.executionArn);
      expect(described).toMatchObject({
        status: 'SUCCEEDED',
        stateMachineArn: ARN('library'),
        output: '"library"',
      });

      // IAM judges SendTaskSuccess on the machine the token is of.
      const token = calls[0]?.token ?? '';
      expect(stepFunctions.stateMachineOfToken(token)).toBe(ARN('archive'));
      await client.send(new SendTaskSuccessCommand({ taskToken: token, output: '"archived"' }));
      await stepFunctions.idle(5000);
      const answered = await client.send(
        new DescribeExecutionCommand({ executionArn: archive.executionArn }),
      );
      expect(answered).toMatchObject({
        status: 'SUCCEEDED',
        stateMachineArn: ARN('archive'),
        output: '"archived"',
      });
      await expect(
        client.send(new StartExecutionCommand({ stateMachineArn: ARN('nowhere'), input: '{}' })),
      ).rejects.toThrow(/State Machine Does Not Exist/);
    } finally {
      client.destroy();
    }
  });

  it('refuses an ended execution’s token TaskTimedOut, and forgets it ten minutes later', async () => {
    const tokens: string[] = [];
    stepFunctions = await startStepFunctions({
      machines: [ARCHIVE],
      invoke: (_functionArn, payload) => {
        tokens.push((payload as { token: string }).token);
        return Promise.resolve(null);
      },
    });
    const client = new SFNClient({
      endpoint: stepFunctions.endpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    // Only the clock is faked: the emulator's sockets and timers run as they do.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const run = async (name: string): Promise<string> => {
        await client.send(new StartExecutionCommand({ stateMachineArn: ARN('archive'), name, input: '{}' }));
        await expect.poll(() => tokens.length).toBe(name === 'first' ? 1 : 2);
        const token = tokens.at(-1) ?? '';
        await client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }));
        await stepFunctions?.idle(5000);
        return token;
      };
      const first = await run('first');
      await expect(
        client.send(new SendTaskSuccessCommand({ taskToken: first, output: '{}' })),
      ).rejects.toMatchObject({ name: 'TaskTimedOut' });

      vi.setSystemTime(Date.now() + 11 * 60_000);
      await run('second'); // an execution's end is when ended ones' tokens are let go
      expect(stepFunctions.stateMachineOfToken(first)).toBeUndefined();
      await expect(
        client.send(new SendTaskSuccessCommand({ taskToken: first, output: '{}' })),
      ).rejects.toMatchObject({ name: 'TaskDoesNotExist' });
    } finally {
      vi.useRealTimers();
      client.destroy();
    }
  });
});
