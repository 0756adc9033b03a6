import { VideoGenClient } from '#shared/videogen/index';
import { VideoGenSimulator } from '#local/simulator/simulator';
import { startIngestTable, type TestTable } from './ingest-table.ts';

export interface StepBackends {
  readonly table: TestTable;
  readonly sim: VideoGenSimulator;
  /** A client of `sim`. */
  readonly client: VideoGenClient;
  close(): Promise<void>;
}

/** What the handlers' steps run against in unit tests: the ingest table (emulated) and a fast simulator. */
export async function startStepBackends(): Promise<StepBackends> {
  const table = await startIngestTable();
  const sim = await VideoGenSimulator.start({ processingMs: 30, playbackMs: 10, analysisMs: 10 });
  return {
    table,
    sim,
    client: new VideoGenClient({ baseUrl: sim.url, apiKey: 'k' }),
    close: async () => {
      await sim.close();
      await table.close();
    },
  };
}
