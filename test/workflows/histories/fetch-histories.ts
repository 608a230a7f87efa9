/**
 * Fetches closed workflow histories from the local stack's Temporal, for the replay test
 * (test/workflows/replay.test.ts): run a test that exercises the workflow on the current code,
 * then fetch its runs and commit the ones worth keeping (renamed for what they show).
 *
 *   eval "$(npm run -s stack -- env)"
 *   node --import tsx test/workflows/histories/fetch-histories.ts materializeWorkflow 10 /tmp/histories
 *
 * Writes `<type>-<n>.json` (writeHistoryFile's form), newest runs first.
 */
import { Client, Connection } from '@temporalio/client';
import { writeHistoryFile } from '../../support/workflow-history.ts';

async function main(type: string, most: number, dir: string): Promise<void> {
  const connection = await Connection.connect({ address: process.env.GRANARY_TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const client = new Client({ connection, namespace: process.env.GRANARY_TEMPORAL_NAMESPACE ?? 'default' });
  try {
    let n = 0;
    for await (const run of client.workflow.list({ query: `WorkflowType = '${type}' AND ExecutionStatus != 'Running'` })) {
      await writeHistoryFile(`${dir}/${type}-${n}.json`, await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory());
      if (++n >= most) break;
    }
    console.log(`${n} ${type} histories in ${dir}`);
  } finally {
    await connection.close();
  }
}

const [type, most, dir] = process.argv.slice(2);
if (!type || !dir) {
  console.error('usage: fetch-histories.ts <workflowType> <most> <dir>');
  process.exit(1);
}
await main(type, Number(most ?? 10), dir);
