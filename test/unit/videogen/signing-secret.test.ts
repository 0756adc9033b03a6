import { describe, expect, it } from 'vitest';
import {
  parseSigningSecretDocument,
  signingSecretsOf,
  withCurrentEndpoint,
  withoutEndpoint,
} from '#shared/videogen/signing-secret';

const first = { id: 'vg_whep_1', url: 'https://a.example/', secret: 'whsec_AAAA' };
const second = { id: 'vg_whep_2', url: 'https://b.example/', secret: 'whsec_BBBB' };

describe('the signing secret document', () => {
  it('verifies deliveries with every endpoint still registered while an update replaces one', () => {
    const both = withCurrentEndpoint(withCurrentEndpoint(undefined, first), second);
    expect(both).toMatchObject({ secret: 'whsec_BBBB', endpointId: 'vg_whep_2' });
    expect(signingSecretsOf(JSON.stringify(both), () => 'unused')).toEqual(['whsec_BBBB', 'whsec_AAAA']);
  });

  it('makes the next endpoint current when the current one is deleted, and is empty after the last', () => {
    const both = withCurrentEndpoint(withCurrentEndpoint(undefined, first), second);
    const left = withoutEndpoint(both, 'vg_whep_2');
    expect(left).toEqual({ secret: 'whsec_AAAA', endpointId: 'vg_whep_1', endpoints: [first] });
    expect(left && withoutEndpoint(left, 'vg_whep_1')).toBeUndefined();
  });

  it('reads a secret you brought (plain or {"secret"}) as its one value', () => {
    expect(parseSigningSecretDocument('whsec_CCCC')).toBeUndefined();
    expect(parseSigningSecretDocument('{"secret":"whsec_CCCC"}')).toBeUndefined();
    expect(signingSecretsOf('{"secret":"whsec_CCCC"}', () => 'whsec_CCCC')).toEqual(['whsec_CCCC']);
  });
});
