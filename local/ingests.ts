/**
 * The `VideoGenIngest` constructs of a stack: an app may embed several (an archive and a
 * library, each with its bucket, table, workflow and subscribers). Each is found by its
 * workflow's construct path, and its resources by theirs: everything under the same path.
 * The first in the app (the template keeps construct order) is the primary one: the drop
 * folder, `run` and the ops commands use it, and its local names are those a stack of one
 * ingest has always had; each other one's add its construct id. So a state folder keeps its
 * names when an app gains an ingest.
 */

/** Where CDK records a resource's construct path in the template. */
const CDK_PATH = 'aws:cdk:path';
const WORKFLOW_PATH = '/Workflow/StateMachine/Resource';

export interface IngestInStack {
  /** 0 for the primary one. */
  readonly index: number;
  /** Its construct path (`MediaStack/Archive`); empty for a template without paths. */
  readonly path: string;
  /** Its construct id (`Archive`). */
  readonly id: string;
  /** What its local names add to the primary one's: '' for the primary, its construct id for the others (`-archive`). */
  readonly suffix: string;
  readonly stateMachineLogicalId: string;
}

export type TemplateResources = Record<string, { Type: string; Metadata?: Record<string, unknown> }>;

export function cdkPathOf(resource: { Metadata?: Record<string, unknown> } | undefined): string | undefined {
  const cdkPath = resource?.Metadata?.[CDK_PATH];
  return typeof cdkPath === 'string' ? cdkPath : undefined;
}

/** A construct id as local names may hold it (bucket names: lower case, digits, hyphens; short). */
function nameSafe(id: string): string {
  return id
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 20);
}

/** Every ingest of the stack, the primary first; one without paths when the template has none. */
export function ingestsInTemplate(resources: TemplateResources): IngestInStack[] {
  const workflows = Object.entries(resources)
    .filter(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine')
    .map(([logicalId, resource]) => ({ logicalId, path: cdkPathOf(resource) }));
  const ingests = workflows
    .filter((workflow) => workflow.path?.endsWith(WORKFLOW_PATH))
    .map((workflow) => ({
      logicalId: workflow.logicalId,
      path: (workflow.path ?? '').slice(0, -WORKFLOW_PATH.length),
    }));
  // A template without construct paths (this repository's, synthesized bare) has one workflow.
  const found =
    ingests.length > 0 ? ingests : workflows.slice(0, 1).map((w) => ({ logicalId: w.logicalId, path: '' }));
  return found.map(({ logicalId, path }, index) => ({
    index,
    path,
    id: path.split('/').pop() ?? '',
    suffix: index === 0 ? '' : `-${nameSafe(path.split('/').pop() ?? String(index))}`,
    stateMachineLogicalId: logicalId,
  }));
}

/** The ingest a resource belongs to, by its construct path; the only one when the template has no paths. */
export function ingestOf(
  ingests: readonly IngestInStack[],
  resource: { Metadata?: Record<string, unknown> } | undefined,
): IngestInStack | undefined {
  const cdkPath = cdkPathOf(resource);
  if (cdkPath === undefined || ingests.every((ingest) => ingest.path === ''))
    return ingests.length === 1 ? ingests[0] : undefined;
  return ingests.find((ingest) => ingest.path !== '' && cdkPath.startsWith(`${ingest.path}/`));
}
