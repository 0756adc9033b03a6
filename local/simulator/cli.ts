import { readFile } from 'node:fs/promises';
import { UsageError, asUsage, parseCommandArgs, wholeNumber } from '../../cli/args.ts';
import { faultRuleSchema, parseFaultSpec, type FaultRule } from './faults.ts';
import { VideoGenSimulator, type SimulatorOptions } from './simulator.ts';
import { untilStopped } from '../signals.ts';

export const SIM_USAGE = `Usage: videogen-ingest-local sim [options]

Serves the VideoGen API simulator until stopped (Ctrl-C).

Options:
  --port N                   port to listen on (0: any free port)      [default: 4010]
  --host HOST                address to bind                            [default: 127.0.0.1]
  --api-key KEY              accept only this bearer key                [default: any non-empty key]
  --upload-url-ttl-ms MS     presigned upload URL lifetime              [default: 900000]
  --processing-ms MS         bytes received -> download_ready (READY)   [default: 1500]
  --playback-ms MS           bytes received -> playback_ready           [default: processing / 2]
  --analysis-ms MS           READY -> analysis_completed/_failed        [default: 1000]
  --delivery-timeout-ms MS   a webhook answer slower than this fails    [default: 5000]
  --delivery-retry-ms LIST   waits before each redelivery, comma-separated [default: 1000,5000,25000]
  --fault SPEC               inject a fault (repeatable): kind[@on][:key=value,...]
  --faults FILE              a JSON array of fault rules
  --seed N                   seed for rate-based faults
  --quiet                    no line per request
  -h, --help                 this text`;

/** Turns `sim` arguments into simulator options; throws UsageError with a clear message. */
export async function simulatorOptionsFromArgs(
  args: readonly string[],
): Promise<{ options: SimulatorOptions; help: boolean }> {
  const { values } = parseCommandArgs({
    args: [...args],
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'api-key': { type: 'string' },
      'upload-url-ttl-ms': { type: 'string' },
      'processing-ms': { type: 'string' },
      'playback-ms': { type: 'string' },
      'analysis-ms': { type: 'string' },
      'delivery-timeout-ms': { type: 'string' },
      'delivery-retry-ms': { type: 'string' },
      fault: { type: 'string', multiple: true },
      faults: { type: 'string' },
      seed: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  const faults: FaultRule[] = asUsage(() => (values.fault ?? []).map(parseFaultSpec));
  if (values.faults !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(values.faults, 'utf8'));
    } catch (error) {
      throw new UsageError(
        `--faults ${values.faults}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const rules = faultRuleSchema.array().safeParse(parsed);
    if (!rules.success)
      throw new UsageError(`--faults ${values.faults}: ${rules.error.issues[0]?.message ?? 'invalid'}`);
    faults.push(...rules.data);
  }
  const retry = values['delivery-retry-ms'];
  const numbers: Record<string, number | undefined> = {
    port: wholeNumber('port', values.port ?? '4010'),
    uploadUrlTtlMs: wholeNumber('upload-url-ttl-ms', values['upload-url-ttl-ms']),
    processingMs: wholeNumber('processing-ms', values['processing-ms']),
    playbackMs: wholeNumber('playback-ms', values['playback-ms']),
    analysisMs: wholeNumber('analysis-ms', values['analysis-ms']),
    deliveryTimeoutMs: wholeNumber('delivery-timeout-ms', values['delivery-timeout-ms']),
    seed: wholeNumber('seed', values.seed),
  };
  const options: SimulatorOptions = {
    ...Object.fromEntries(Object.entries(numbers).filter(([, value]) => value !== undefined)),
    ...(values.host ? { host: values.host } : {}),
    ...(values['api-key'] ? { apiKey: values['api-key'] } : {}),
    ...(retry !== undefined
      ? {
          deliveryRetryDelaysMs:
            retry === ''
              ? []
              : retry.split(',').map((part) => wholeNumber('delivery-retry-ms', part.trim()) ?? 0),
        }
      : {}),
    faults,
  };
  return { options, help: values.help ?? false };
}

/** `videogen-ingest-local sim`: serves until SIGINT/SIGTERM. */
export async function runSimulator(args: readonly string[]): Promise<void> {
  const { options, help } = await simulatorOptionsFromArgs(args);
  if (help) {
    console.log(SIM_USAGE);
    return;
  }
  const quiet = args.includes('--quiet');
  const sim = await VideoGenSimulator.start({
    ...options,
    ...(quiet ? {} : { log: (line: string) => console.error(`[sim] ${line}`) }),
  });
  console.log(`VideoGen simulator listening on ${sim.url}`);
  console.log(`  API key: ${options.apiKey ? 'the one given with --api-key' : 'any non-empty bearer key'}`);
  console.log(`  inspect: ${sim.url}/_sim/state   faults: ${sim.url}/_sim/faults`);
  if (options.faults?.length)
    console.log(`  faults: ${options.faults.map((rule) => JSON.stringify(rule)).join(' ')}`);
  await untilStopped();
  await sim.close();
  console.error('VideoGen simulator stopped');
}
