/** Every workflow the Granary worker runs (its workflowsPath). Workflow code only: no I/O. */
export { compactViewWorkflow } from './compact-view-workflow.ts';
export { ingestWorkflow } from './ingest-workflow.ts';
export { materializeWorkflow } from './materialize-workflow.ts';
export { migrateViewWorkflow } from './migrate-view-workflow.ts';
export { rebuildOnlineWorkflow, retireGenerationWorkflow } from './rebuild-online-workflow.ts';
export { scheduledMaterializeWorkflow } from './scheduled-materialize-workflow.ts';
export { verifyOnlineWorkflow } from './verify-online-workflow.ts';
export { monitorWorkflow } from './monitor-workflow.ts';
export { historicalWorkflow } from './historical-workflow.ts';
