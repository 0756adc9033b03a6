/**
 * What downstream consumers import (`videogen-ingest/record`): the ingest record's schema
 * and type, its statuses, and the stream reader. Changes here follow docs/stream-contract.md's
 * versioning rule: new optional fields keep `schemaVersion`; anything else bumps it.
 *
 * @module videogen-ingest/record
 */
export {
  FAILURE_STATUSES,
  INGEST_SCHEMA_VERSION,
  INGEST_STATUSES,
  READY_STATUSES,
  ingestRecordSchema,
  type IngestError,
  type IngestRecord,
  type IngestStatus,
} from './record.ts';
export {
  becameReady,
  entered,
  ingestChangeOf,
  IngestRecordSchemaError,
  type IngestChange,
} from './stream.ts';
