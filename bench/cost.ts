/**
 * What 1,000 files cost on AWS, from counts measured on the local runtime and public
 * list prices (us-east-1, on-demand, as published by AWS in 2025; `PRICES.date` says so).
 * Data transfer is excluded: it depends on where VideoGen's storage lives.
 */
export const PRICES = {
  date: '2025 list prices, us-east-1',
  stepFunctionsPerTransition: 0.025 / 1000,
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerRequest: 0.2 / 1_000_000,
  dynamoDbPerWriteUnit: 0.625 / 1_000_000,
  dynamoDbPerReadUnit: 0.125 / 1_000_000,
  sqsPerRequest: 0.4 / 1_000_000,
  /** S3 events on the default event bus, and rules matching them, are free. */
  eventBridgePerEvent: 0,
} as const;

export interface PerFileCounts {
  readonly transitions: number;
  readonly lambdaInvocations: number;
  /** Sum over the functions of memory (GB) × billed duration (s), per file. */
  readonly lambdaGbSeconds: number;
  /** Write request units (a transaction item counts twice, as DynamoDB bills it). */
  readonly dynamoDbWriteUnits: number;
  readonly dynamoDbReadUnits: number;
  readonly sqsRequests: number;
}

export interface CostPer1000 {
  readonly stepFunctions: number;
  readonly lambda: number;
  readonly dynamoDb: number;
  readonly sqs: number;
  readonly eventBridge: number;
  readonly total: number;
  readonly priceDate: string;
}

const round = (value: number): number => Math.round(value * 10_000) / 10_000;

export function costPer1000(perFile: PerFileCounts): CostPer1000 {
  const files = 1000;
  const stepFunctions = perFile.transitions * files * PRICES.stepFunctionsPerTransition;
  const lambda =
    (perFile.lambdaGbSeconds * PRICES.lambdaArmPerGbSecond +
      perFile.lambdaInvocations * PRICES.lambdaPerRequest) *
    files;
  const dynamoDb =
    (perFile.dynamoDbWriteUnits * PRICES.dynamoDbPerWriteUnit +
      perFile.dynamoDbReadUnits * PRICES.dynamoDbPerReadUnit) *
    files;
  const sqs = perFile.sqsRequests * files * PRICES.sqsPerRequest;
  const eventBridge = files * PRICES.eventBridgePerEvent;
  return {
    stepFunctions: round(stepFunctions),
    lambda: round(lambda),
    dynamoDb: round(dynamoDb),
    sqs: round(sqs),
    eventBridge: round(eventBridge),
    total: round(stepFunctions + lambda + dynamoDb + sqs + eventBridge),
    priceDate: PRICES.date,
  };
}
