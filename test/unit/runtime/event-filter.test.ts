import { describe, expect, it } from 'vitest';
import { filtersMatch, patternMatches } from '#local/services/lambda/event-filter';

/** The DynamoDB stream record of Lambda's filtering guide (its CustomerName example). */
const record = {
  eventName: 'INSERT',
  dynamodb: {
    Keys: { CustomerName: { S: 'AnyCompany Industries' } },
    NewImage: {
      AccountManager: { S: 'Pat Candella' },
      PaymentTerms: { S: '60 days' },
      CustomerName: { S: 'AnyCompany Industries' },
      Score: { N: '7' },
      Active: { BOOL: true },
    },
  },
};

describe("Lambda's event filtering", () => {
  it.each<[string, object, boolean]>([
    [
      'a key equal to a value (the guide’s table-key example)',
      { dynamodb: { Keys: { CustomerName: { S: ['AnyCompany Industries'] } } } },
      true,
    ],
    ['a key equal to another value', { dynamodb: { Keys: { CustomerName: { S: ['Another'] } } } }, false],
    ['OR: any of the listed values', { eventName: ['MODIFY', 'INSERT'] }, true],
    [
      'AND: every key of the pattern',
      { eventName: ['INSERT'], dynamodb: { NewImage: { PaymentTerms: { S: ['30 days'] } } } },
      false,
    ],
    [
      'anything-but',
      { dynamodb: { NewImage: { PaymentTerms: { S: [{ 'anything-but': ['30 days'] }] } } } },
      true,
    ],
    [
      'anything-but the value it has',
      { dynamodb: { NewImage: { PaymentTerms: { S: [{ 'anything-but': ['60 days'] }] } } } },
      false,
    ],
    ['prefix', { dynamodb: { NewImage: { AccountManager: { S: [{ prefix: 'Pat' }] } } } }, true],
    ['a boolean', { dynamodb: { NewImage: { Active: { BOOL: [true] } } } }, true],
    ['a boolean it does not have', { dynamodb: { NewImage: { Active: { BOOL: [false] } } } }, false],
    ['exists', { dynamodb: { NewImage: { AccountManager: [{ exists: true }] } } }, true],
    ['exists: false on a key it lacks', { dynamodb: { NewImage: { Region: [{ exists: false }] } } }, true],
    [
      'a key it lacks, any other rule',
      { dynamodb: { NewImage: { Region: { S: [{ 'anything-but': ['x'] }] } } } },
      false,
    ],
    [
      'numbers are strings in DynamoDB JSON: numeric does not match them',
      { dynamodb: { NewImage: { Score: { N: [{ numeric: ['>', 5] }] } } } },
      false,
    ],
  ])('%s', (_what, pattern, expected) => {
    expect(patternMatches(pattern as never, record as never)).toBe(expected);
  });

  it('numeric ranges on numbers', () => {
    expect(patternMatches({ size: [{ numeric: ['>', 0, '<=', 5] }] }, { size: 5 })).toBe(true);
    expect(patternMatches({ size: [{ numeric: ['>', 0, '<=', 5] }] }, { size: 6 })).toBe(false);
  });

  it('delivers a record any filter matches, and every record with no filters', () => {
    const filters = [{ Pattern: '{"eventName":["REMOVE"]}' }, { Pattern: '{"eventName":["INSERT"]}' }];
    expect(filtersMatch(filters, record)).toBe(true);
    expect(filtersMatch([{ Pattern: '{"eventName":["REMOVE"]}' }], record)).toBe(false);
    expect(filtersMatch(undefined, record)).toBe(true);
  });
});
