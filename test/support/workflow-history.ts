import { readFile, writeFile } from 'node:fs/promises';
// @temporalio/proto comes with @temporalio/client (CommonJS: one default export).
import protos from '@temporalio/proto';

/**
 * Workflow histories as JSON files, for replay tests (`Worker.runReplayHistories`). Written with
 * protobufjs's own object form (enum names, 64-bit numbers as strings, bytes as base64) and read
 * back into a History message. Not `historyToJSON`/`historyFromJSON` of @temporalio/common: in
 * this install it loads a second copy of protobufjs and fails with "type must be a Type".
 */
const History = protos.temporal.api.history.v1.History;

export type WorkflowHistory = protos.temporal.api.history.v1.IHistory;

export async function writeHistoryFile(path: string, history: WorkflowHistory): Promise<void> {
  const json = History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String });
  await writeFile(path, JSON.stringify(json, null, 1) + '\n');
}

export async function readHistoryFile(path: string): Promise<protos.temporal.api.history.v1.History> {
  return History.fromObject(JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>);
}
