/**
 * dynalite parses every expression of every request anew with its PEG parsers: in the
 * pipeline bench, a third of the DynamoDB emulator's CPU. The ingest sends the same dozen
 * expressions with new values each time, and a parse's tree depends on its values only by
 * their types, so each parse is remembered by its expression, its attribute names and its
 * values' types, and a hit binds the request's own values into a copy of the remembered tree.
 *
 * Written here because dynalite has no cache of its own; what it reads of a value beyond its
 * type is a BETWEEN's bounds and an `attribute_type` argument, so an expression holding either
 * is parsed as dynalite parses it, every time, as is any parse that answers an error.
 */
import { createRequire } from 'node:module';

type AttributeValues = Record<string, Record<string, unknown>>;

/** What dynalite's `validations` hands a parser (`isReserved`, `compare` are the same every time). */
interface ParseContext {
  attrNames?: Record<string, string>;
  attrVals?: AttributeValues;
  unusedAttrNames?: Record<string, boolean>;
  unusedAttrVals?: Record<string, boolean>;
  [other: string]: unknown;
}

interface Parser {
  parse(input: string, options?: { context?: ParseContext }): unknown;
}

/** Where a request's value goes in a remembered tree. */
class ValueSlot {
  constructor(readonly name: string) {}
}

interface Remembered {
  readonly tree: unknown;
  /** The names and values the expression uses: a parse marks them used in its context. */
  readonly usedNames: readonly string[];
  readonly usedValues: readonly string[];
}

/** Expressions whose parse reads a value's content, not only its type. */
const READS_VALUES = /\bbetween\b|\battribute_type\b/i;
/** Distinct parses kept per parser, past which it stops remembering (requests built with inline values). */
const MAX_REMEMBERED = 1_000;

const PARSERS = ['conditionParser', 'updateParser', 'projectionParser'] as const;
/** Where an installed parser keeps dynalite's own parse. */
export const DYNALITE_PARSE = Symbol.for('videogen-ingest.dynaliteParse');

/** Copies a tree, its objects' prototypes kept (dynalite's path maps have none), each slot given by `fill`. */
function copyTree(node: unknown, fill: (node: object) => unknown): unknown {
  if (node === null || typeof node !== 'object') return node;
  const filled = fill(node);
  if (filled !== undefined) return filled;
  if (Array.isArray(node)) return node.map((item) => copyTree(item, fill));
  const copy = Object.create(Object.getPrototypeOf(node) as object | null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(node)) copy[key] = copyTree(value, fill);
  return copy;
}

function valueTypes(values: AttributeValues | undefined): string {
  if (!values) return '';
  return Object.entries(values)
    .map(([name, value]) => `${name}=${Object.keys(value).join('+')}`)
    .join(',');
}

/** One parser's parse, remembered; `original` is dynalite's. */
export function rememberingParse(original: Parser['parse']): Parser['parse'] {
  const remembered = new Map<string, Remembered>();
  return function parse(this: unknown, input, options) {
    const context = options?.context;
    if (!context || typeof input !== 'string' || READS_VALUES.test(input)) {
      return original.call(this, input, options);
    }
    const key = `${input}\u0000${JSON.stringify(context.attrNames ?? null)}\u0000${valueTypes(context.attrVals)}`;
    let found = remembered.get(key);
    // Past the bound, a new expression is parsed as dynalite parses it, with nothing learnt to keep.
    if (!found && remembered.size >= MAX_REMEMBERED) return original.call(this, input, options);
    if (!found) {
      // Parsed once with every name and value unused, to learn which the expression uses.
      const names = Object.keys(context.attrNames ?? {});
      const values = Object.keys(context.attrVals ?? {});
      const probe: ParseContext = {
        ...context,
        unusedAttrNames: Object.fromEntries(names.map((name) => [name, true])),
        unusedAttrVals: Object.fromEntries(values.map((name) => [name, true])),
      };
      const tree = original.call(this, input, { ...options, context: probe });
      if (typeof tree === 'string' || tree === null || typeof tree !== 'object') {
        // An error (dynalite answers it as a string): parsed again as dynalite would, never kept.
        return original.call(this, input, options);
      }
      const slots = new Map<unknown, ValueSlot>(
        Object.entries(context.attrVals ?? {}).map(([name, value]) => [value, new ValueSlot(name)]),
      );
      found = {
        tree: copyTree(tree, (node) => slots.get(node)),
        usedNames: names.filter((name) => !(name in (probe.unusedAttrNames ?? {}))),
        usedValues: values.filter((name) => !(name in (probe.unusedAttrVals ?? {}))),
      };
      remembered.set(key, found);
    }
    for (const name of found.usedNames) delete context.unusedAttrNames?.[name];
    for (const name of found.usedValues) delete context.unusedAttrVals?.[name];
    const values = context.attrVals ?? {};
    return copyTree(found.tree, (node) => (node instanceof ValueSlot ? values[node.name] : undefined));
  };
}

/**
 * Makes dynalite's expression parsers remember their parses, once per process. dynalite's
 * validations call `parse` on the module objects this replaces it on.
 */
export function rememberExpressionParses(): void {
  const require = createRequire(import.meta.url);
  for (const name of PARSERS) {
    const parser = require(`dynalite/db/${name}`) as Parser & { [DYNALITE_PARSE]?: Parser['parse'] };
    if (parser[DYNALITE_PARSE]) continue;
    parser[DYNALITE_PARSE] = parser.parse.bind(parser);
    parser.parse = rememberingParse(parser[DYNALITE_PARSE]);
  }
}
