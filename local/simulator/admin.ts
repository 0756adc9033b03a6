/** The simulator's admin API under `/_sim/`, for tests and the CLI: its state, and faults added or cleared. */
import type http from 'node:http';
import type { FaultInjector, FaultRule } from './faults.ts';
import { readJson, sendJson } from './http.ts';

export async function handleAdmin(
  simulator: { state(): Record<string, unknown>; readonly faults: FaultInjector },
  method: string,
  path: string,
  request: http.IncomingMessage,
  response: http.ServerResponse,
): Promise<void> {
  const { faults } = simulator;
  if (path === '/_sim/state' && method === 'GET') {
    request.resume();
    return sendJson(response, 200, simulator.state());
  }
  if (path === '/_sim/faults' && method === 'GET') {
    request.resume();
    return sendJson(response, 200, { faults: faults.rules(), injected: faults.injected() });
  }
  if (path === '/_sim/faults' && method === 'POST') {
    let rules: FaultRule[];
    try {
      const body = await readJson(request);
      const list: unknown[] = Array.isArray(body) ? body : [body];
      faults.add(...(list as FaultRule[]));
      rules = faults.rules();
    } catch (error) {
      return sendJson(response, 400, {
        error: {
          code: 'validation_error',
          message: error instanceof Error ? error.message : String(error),
        },
      });
    }
    return sendJson(response, 200, { faults: rules });
  }
  if (path === '/_sim/faults' && method === 'DELETE') {
    request.resume();
    faults.clear();
    return sendJson(response, 200, { faults: [] });
  }
  request.resume();
  sendJson(response, 404, { error: { code: 'not_found', message: `no route ${method} ${path}` } });
}
