import type { Command } from 'commander';
import { commandAction } from '../command-action.ts';
import { globalOptions } from '../global-options.ts';
import { withFeatureStore } from '../open-feature-store.ts';
import { formatTable, printJson, printLines } from '../output.ts';

/**
 * `granary status [VIEW...]`: per view, the active generation (and one being rebuilt), the
 * watermark against the latest commit, the last materialization, the last rebuild, and the
 * freshness of the newest online row against the view's TTL, and whether Redis still holds the
 * active generation (its marker: LOST means a rebuild is needed).
 */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('generations, watermarks, last materialization and rebuild, freshness against TTL (all online views when none are named)')
    .argument('[views...]', 'feature views')
    .action(
      commandAction(async (views: string[], _opts: object, command: Command) => {
        const options = globalOptions(command);
        const statuses = await withFeatureStore(options, (store) => store.status(views));
        if (options.json) return printJson(statuses);
        const now = Date.now();
        printLines(
          formatTable(
            ['VIEW', 'GEN', 'BUILDING', 'WATERMARK', 'LAST MATERIALIZED', 'ACTIVE SINCE', 'LAST REBUILD', 'NEWEST EVENT', 'TTL', 'FRESHNESS', 'ONLINE'],
            statuses.map((s) => [
              `${s.view} v${s.version}`,
              String(s.activeGeneration),
              s.buildingGeneration === undefined ? '-' : String(s.buildingGeneration),
              `${s.watermark}/${s.latestSeq}`,
              ago(s.lastMaterializedAt, now),
              ago(s.activeSince, now),
              s.rebuild ? `${s.rebuild.status.toLowerCase()}${s.rebuild.progress ? ` (${s.rebuild.progress.state})` : ''}` : '-',
              ago(s.newestEventTime, now),
              `${s.ttlSeconds}s`,
              s.ttlSeconds === 0 ? 'no TTL' : s.stale ? 'STALE' : 'fresh',
              s.online === 'ok' ? 'ok' : s.online === 'behind' ? `BEHIND (at ${s.onlineApplied})` : s.online.toUpperCase(),
            ]),
          ),
        );
      }),
    );
}

function ago(date: Date | undefined, now: number): string {
  if (!date) return '-';
  const seconds = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86400)}d ago`;
}
