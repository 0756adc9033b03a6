import { describe, expect, it } from 'vitest';
import { ingestOf, ingestsInTemplate, type TemplateResources } from '#local/ingests';

const at = (cdkPath: string, Type = 'AWS::Lambda::Function') => ({
  Type,
  Metadata: { 'aws:cdk:path': cdkPath },
});
const workflow = (ingestPath: string) =>
  at(`${ingestPath}/Workflow/StateMachine/Resource`, 'AWS::StepFunctions::StateMachine');

describe('the VideoGenIngests of a stack', () => {
  // In construct order, as CDK writes a template: Library was created first.
  const resources: TemplateResources = {
    LibraryWorkflow: workflow('Media/Library'),
    LibraryTransfer: at('Media/Library/Transfer/Resource'),
    ArchiveWorkflow: workflow('Media/Archive'),
    ArchiveTransfer: at('Media/Archive/Transfer/Resource'),
    // The app's own: a state machine of its own, and a subscriber.
    Reports: at('Media/Reports/Resource', 'AWS::StepFunctions::StateMachine'),
    Announcer: at('Media/Announcer/Resource'),
  };

  it('are found by their workflows, the first in the app the primary; the others named by their construct id', () => {
    expect(ingestsInTemplate(resources)).toEqual([
      {
        index: 0,
        path: 'Media/Library',
        id: 'Library',
        suffix: '',
        stateMachineLogicalId: 'LibraryWorkflow',
      },
      {
        index: 1,
        path: 'Media/Archive',
        id: 'Archive',
        suffix: '-archive',
        stateMachineLogicalId: 'ArchiveWorkflow',
      },
    ]);
  });

  it('own the resources under their construct path, and nothing else', () => {
    const ingests = ingestsInTemplate(resources);
    expect(ingestOf(ingests, resources.ArchiveTransfer)?.id).toBe('Archive');
    expect(ingestOf(ingests, resources.LibraryTransfer)?.id).toBe('Library');
    expect(ingestOf(ingests, resources.Announcer)).toBeUndefined();
    // A sibling whose id starts the same is not inside it.
    expect(ingestOf(ingests, at('Media/LibraryBackup/Resource'))).toBeUndefined();
  });

  it('is the one workflow of a template without construct paths, owning every resource', () => {
    const bare: TemplateResources = {
      Workflow: { Type: 'AWS::StepFunctions::StateMachine' },
      Transfer: { Type: 'AWS::Lambda::Function' },
    };
    const ingests = ingestsInTemplate(bare);
    expect(ingests).toEqual([{ index: 0, path: '', id: '', suffix: '', stateMachineLogicalId: 'Workflow' }]);
    expect(ingestOf(ingests, bare.Transfer)).toBe(ingests[0]);
  });

  it('makes construct ids safe for bucket and function names', () => {
    const ingests = ingestsInTemplate({ A: workflow('S/First'), B: workflow('S/Photo_Archive.2026 (EU)') });
    expect(ingests[1]?.suffix).toBe('-photo-archive-2026-e');
  });
});
