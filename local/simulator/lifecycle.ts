/**
 * A file's life after its bytes arrive, on the simulator's clock: PROCESSING, playback
 * (video and audio), READY, then analysis unless temporary, or FAILED; each step's event
 * sent to the endpoints that asked for it, with the delivery faults (drop, delay,
 * reorder, duplicate) applied on the way.
 */
import type { EventEmitter } from 'node:events';
import { fileTypeOfMime, sniffMime } from '../../lambdas/shared/media-type.ts';
import {
  ANALYSIS_EVENT_TYPES,
  type FileType,
  type WebhookEventType,
} from '../../lambdas/shared/videogen/contract.ts';
import type { WebhookSender } from './deliveries.ts';
import type { FaultInjector } from './faults.ts';
import { newId, now, snapshotOf, type EndpointState, type FileState } from './records.ts';
import type { BackgroundWork } from './work.ts';

export interface LifecycleSettings {
  /** From the bytes' arrival to `file.download_ready` (READY). */
  readonly processingMs: number;
  /** From the bytes' arrival to `file.playback_ready`, video and audio only. */
  readonly playbackMs: number;
  /** From READY to `file.analysis_completed`/`_failed`, non-temporary files only. */
  readonly analysisMs: number;
}

export class FileLifecycle {
  constructor(
    private readonly settings: LifecycleSettings,
    private readonly endpoints: ReadonlyMap<string, EndpointState>,
    private readonly sender: WebhookSender,
    private readonly faults: FaultInjector,
    private readonly work: BackgroundWork,
    private readonly events: EventEmitter,
    private readonly baseUrl: () => string,
  ) {}

  start(state: FileState): void {
    const { file } = state;
    file.status = 'PROCESSING';
    file.updatedAt = now();
    this.#emitEvent(state, 'file.upload.completed');
    const context = { fileId: file.fileId, ...(file.displayName ? { displayName: file.displayName } : {}) };
    const fileFaults = this.faults.fire('file', context);
    this.#process(state, {
      failProcessing: fileFaults.some((rule) => rule.fault === 'fail_processing'),
      failAnalysis: fileFaults.some((rule) => rule.fault === 'fail_analysis'),
    });
  }

  /**
   * A file a restart caught part-way (the simulator's state folder): the steps it had not
   * reached yet, each after its full delay. The faults its first start drew are not drawn again.
   */
  resume(state: FileState): void {
    const noFaults = { failProcessing: false, failAnalysis: false };
    if (state.processing) this.#process(state, noFaults);
    else if (state.file.status === 'READY' && this.#analysisDue(state)) this.#analyse(state, false);
  }

  #process(state: FileState, faults: { failProcessing: boolean; failAnalysis: boolean }): void {
    const { file } = state;
    const { processingMs, playbackMs } = this.settings;
    state.processing = true;
    const end = this.work.begin();
    void this.#inferType(state).then((type) => {
      end();
      if (faults.failProcessing || type === undefined) {
        // The seed names no failure event: a failed file is seen by polling GET /v1/files/{id}.
        this.work.schedule(processingMs, () => {
          file.status = 'FAILED';
          file.updatedAt = now();
          state.processing = false;
          this.events.emit('file', snapshotOf(state));
        });
        return;
      }
      file.type = type;
      if (type !== 'IMAGE' && !state.events.includes('file.playback_ready')) {
        this.work.schedule(playbackMs, () => {
          file.sources = { ...file.sources, hlsSource: `${this.baseUrl()}/hls/${file.fileId}/master.m3u8` };
          file.updatedAt = now();
          this.#emitEvent(state, 'file.playback_ready');
        });
      }
      this.work.schedule(processingMs, () => {
        file.sources = { ...file.sources, downloadUrl: `${this.baseUrl()}/download/${file.fileId}` };
        file.status = 'READY';
        file.updatedAt = now();
        state.processing = false;
        this.#emitEvent(state, 'file.download_ready');
        if (this.#analysisDue(state)) this.#analyse(state, faults.failAnalysis);
      });
    });
  }

  #analysisDue(state: FileState): boolean {
    return !state.file.isTemporary && state.file.analysis?.status === 'PENDING';
  }

  #analyse(state: FileState, fail: boolean): void {
    const { file } = state;
    this.work.schedule(this.settings.analysisMs, () => {
      file.analysis = fail
        ? { status: 'FAILED', description: null, transcript: null }
        : {
            status: 'COMPLETED',
            description: `Simulated description of ${file.displayName ?? file.fileId}`,
            transcript: file.type === 'IMAGE' ? null : 'Simulated transcript.',
          };
      file.updatedAt = now();
      this.#emitEvent(state, fail ? 'file.analysis_failed' : 'file.analysis_completed');
    });
  }

  /** The declared type, or the one the bytes show ("inferred after upload processing completes"). */
  async #inferType(state: FileState): Promise<FileType | undefined> {
    if (state.file.type) return state.file.type;
    return fileTypeOfMime(state.head ? await sniffMime(state.head) : undefined);
  }

  #emitEvent(state: FileState, type: WebhookEventType): void {
    if (state.file.isTemporary && ANALYSIS_EVENT_TYPES.includes(type)) return;
    state.events.push(type);
    const event = { id: newId('evt_'), type, createdAt: now(), data: { file: structuredClone(state.file) } };
    const body = JSON.stringify(event);
    this.events.emit('event', event);
    this.events.emit('file', snapshotOf(state));
    // Earlier events held back by a reorder fault go out right after this one.
    const released = state.held.splice(0);
    for (const endpoint of this.endpoints.values()) {
      if (endpoint.deleted || !endpoint.events.includes(type)) continue;
      const context = {
        on: type,
        fileId: state.file.fileId,
        ...(state.file.displayName ? { displayName: state.file.displayName } : {}),
      };
      const fired = this.faults.fire('delivery', context);
      const base = { eventId: event.id, type, fileId: state.file.fileId, endpointId: endpoint.id };
      if (fired.some((rule) => rule.fault === 'drop_delivery')) {
        this.sender.record({ ...base, attempt: 1, at: now(), outcome: 'dropped', durationMs: 0 });
        continue;
      }
      const delayMs = fired.find((rule) => rule.fault === 'delay_delivery')?.delayMs ?? 0;
      const send = (duplicate: boolean) => () => {
        void this.sender.deliver(endpoint, base, body, 1, duplicate);
      };
      if (fired.some((rule) => rule.fault === 'reorder_delivery')) {
        const release = send(false);
        state.held.push(release);
        // When no later event comes, the held one still goes out, late.
        this.work.schedule(Math.max(delayMs, this.settings.processingMs), () => {
          const index = state.held.indexOf(release);
          if (index < 0) return;
          state.held.splice(index, 1);
          release();
        });
      } else {
        this.work.schedule(delayMs, send(false));
      }
      if (fired.some((rule) => rule.fault === 'duplicate_delivery'))
        this.work.schedule(delayMs + 1, send(true));
    }
    for (const release of released) this.work.schedule(1, release);
  }
}
