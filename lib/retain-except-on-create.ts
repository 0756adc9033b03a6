import { CfnDeletionPolicy, CfnResource, type IAspect } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Turns every `DeletionPolicy: Retain` it visits into `RetainExceptOnCreate`: a deploy
 * whose first create rolls back (a wrong API key fails the webhook registration) cleans
 * up what it made, instead of leaving retained tables, buckets and log groups behind that
 * the next deploy would trip over; once created, they are kept on deletion as before.
 * (`RemovalPolicy` has no such member; CloudFormation's `DeletionPolicy` does.)
 */
export class RetainExceptOnCreate implements IAspect {
  visit(node: IConstruct): void {
    if (node instanceof CfnResource && node.cfnOptions.deletionPolicy === CfnDeletionPolicy.RETAIN) {
      node.cfnOptions.deletionPolicy = CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE;
    }
  }
}
