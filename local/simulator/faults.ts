import { z } from 'zod';
import { WEBHOOK_EVENT_TYPES } from '../../lambdas/shared/videogen/contract.ts';

/** The calls the simulator answers, by name, for fault rules' `on`. */
export const API_OPERATIONS = ['create', 'get', 'put', 'register', 'unregister'] as const;
export type ApiOperation = (typeof API_OPERATIONS)[number];

/** Faults on an API call or the presigned PUT (`on`: an operation; default every one). */
const API_FAULTS = ['rate_limit', 'server_error', 'slow'] as const;
/** Faults on the presigned PUT only. */
const UPLOAD_FAULTS = ['expire_url'] as const;
/** Faults on webhook deliveries (`on`: an event type; default every one). */
const DELIVERY_FAULTS = [
  'drop_delivery',
  'duplicate_delivery',
  'delay_delivery',
  'reorder_delivery',
] as const;
/** Faults on a file's processing, decided once per file. */
const FILE_FAULTS = ['fail_processing', 'fail_analysis'] as const;

export const FAULT_KINDS = [...API_FAULTS, ...UPLOAD_FAULTS, ...DELIVERY_FAULTS, ...FILE_FAULTS] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultCategory = 'api' | 'upload' | 'delivery' | 'file';

export function categoryOf(kind: FaultKind): FaultCategory {
  if ((API_FAULTS as readonly string[]).includes(kind)) return 'api';
  if ((UPLOAD_FAULTS as readonly string[]).includes(kind)) return 'upload';
  if ((DELIVERY_FAULTS as readonly string[]).includes(kind)) return 'delivery';
  return 'file';
}

export const faultRuleSchema = z
  .strictObject({
    fault: z.enum(FAULT_KINDS),
    /** An operation (`create`, `get`, `put`, `register`, `unregister`) or, for delivery faults, an event type. */
    on: z.string().optional(),
    /** Probability per matching call, 0..1. Without `rate` or `nth`, every matching call. */
    rate: z.number().min(0).max(1).optional(),
    /** Only the Nth matching call (1-based), counted per rule. */
    nth: z.number().int().positive().optional(),
    /** At most this many injections. */
    times: z.number().int().positive().optional(),
    /** Only for the file with this display name (known from the create call on). */
    displayName: z.string().optional(),
    /** Only for the file with this id. */
    fileId: z.string().optional(),
    /** `rate_limit`: the `Retry-After` seconds. @default 1 */
    retryAfterSeconds: z.number().int().min(0).optional(),
    /** `server_error`: the 5xx status. @default 500 */
    status: z.number().int().min(500).max(599).optional(),
    /** `slow`: added before answering; `delay_delivery`: added before delivering. @default 1000 */
    delayMs: z.number().int().min(0).optional(),
  })
  .superRefine((rule, context) => {
    if (rule.on === undefined) return;
    const category = categoryOf(rule.fault);
    const allowed: readonly string[] =
      category === 'api' ? API_OPERATIONS : category === 'delivery' ? WEBHOOK_EVENT_TYPES : [];
    if (!allowed.includes(rule.on)) {
      context.addIssue({
        code: 'custom',
        path: ['on'],
        message:
          allowed.length === 0
            ? `${rule.fault} takes no "on"`
            : `${rule.fault} applies on one of ${allowed.join(', ')}; got "${rule.on}"`,
      });
    }
  });
export type FaultRule = z.infer<typeof faultRuleSchema>;

/**
 * Parses the CLI form `kind[@on][:key=value,...]`, e.g. `rate_limit@create:rate=0.2,retryAfterSeconds=2`,
 * `expire_url:nth=1`, `fail_analysis:displayName=clip.mp4`.
 */
export function parseFaultSpec(spec: string): FaultRule {
  const match = /^([a-z_]+)(?:@([^:]+))?(?::(.*))?$/.exec(spec.trim());
  if (!match) throw new Error(`fault "${spec}": expected kind[@on][:key=value,...]`);
  const [, fault, on, rest] = match;
  const rule: Record<string, unknown> = { fault };
  if (on !== undefined) rule.on = on;
  for (const pair of rest ? rest.split(',') : []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`fault "${spec}": "${pair}" is not key=value`);
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    rule[key] =
      key === 'displayName' || key === 'fileId' || !/^-?\d+(\.\d+)?$/.test(value) ? value : Number(value);
  }
  const parsed = faultRuleSchema.safeParse(rule);
  if (!parsed.success) {
    throw new Error(
      `fault "${spec}": ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'rule'}: ${issue.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

/**
 * mulberry32: a seeded PRNG in five lines, so a chaos run with `--seed` injects the same
 * faults again. (`Math.random` cannot be seeded; a library would be heavier than this.)
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultContext {
  /** The operation, or the event type for delivery faults. */
  readonly on?: string;
  readonly fileId?: string;
  readonly displayName?: string;
}

interface ActiveRule {
  readonly rule: FaultRule;
  matched: number;
  fired: number;
}

/** Decides, call by call, which configured faults fire, and counts what it injected. */
export class FaultInjector {
  readonly #random: () => number;
  #rules: ActiveRule[] = [];
  readonly #injected = new Map<FaultKind, number>();

  constructor(rules: readonly FaultRule[] = [], seed: number = Date.now()) {
    this.#random = seededRandom(seed);
    this.add(...rules);
  }

  add(...rules: readonly FaultRule[]): void {
    for (const rule of rules) this.#rules.push({ rule: faultRuleSchema.parse(rule), matched: 0, fired: 0 });
  }

  clear(): void {
    this.#rules = [];
  }

  rules(): FaultRule[] {
    return this.#rules.map((active) => ({ ...active.rule }));
  }

  /** How many times each kind fired so far. */
  injected(): Partial<Record<FaultKind, number>> {
    return Object.fromEntries(this.#injected);
  }

  /** The rules of `category` that fire for this call, each counted as injected. */
  fire(category: FaultCategory, context: FaultContext): FaultRule[] {
    const fired: FaultRule[] = [];
    for (const active of this.#rules) {
      const { rule } = active;
      if (categoryOf(rule.fault) !== category) continue;
      if (rule.on !== undefined && rule.on !== context.on) continue;
      if (rule.fileId !== undefined && rule.fileId !== context.fileId) continue;
      if (rule.displayName !== undefined && rule.displayName !== context.displayName) continue;
      if (rule.times !== undefined && active.fired >= rule.times) continue;
      active.matched += 1;
      const fires =
        rule.nth !== undefined
          ? active.matched === rule.nth
          : rule.rate !== undefined
            ? this.#random() < rule.rate
            : true;
      if (!fires) continue;
      active.fired += 1;
      this.#injected.set(rule.fault, (this.#injected.get(rule.fault) ?? 0) + 1);
      fired.push(rule);
    }
    return fired;
  }
}
