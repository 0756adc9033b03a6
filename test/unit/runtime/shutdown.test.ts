import { describe, expect, it } from 'vitest';
import { ShutdownList } from '#local/runtime/shutdown';

describe('the shutdown list', () => {
  it('stops by phase (registrations first, storage last), the last started first within one, each step once', async () => {
    const stopped: string[] = [];
    const list = new ShutdownList();
    // In the order a runtime starts them.
    list.add('storage', () => stopped.push('dynamodb'));
    list.add('videogen', () => stopped.push('simulator'));
    list.add('endpoints', () => stopped.push('table'));
    list.add('workflows', () => stopped.push('step functions'));
    list.add('endpoints', () => {
      stopped.push('s3');
      throw new Error('already closed');
    });
    list.add('functions', () => Promise.resolve(stopped.push('lambdas')));
    list.add('registrations', () => stopped.push('webhook'));

    await Promise.all([list.close(), list.close()]);
    await list.close();
    expect(stopped).toEqual(['webhook', 'simulator', 'step functions', 'lambdas', 's3', 'table', 'dynamodb']);
  });
});
