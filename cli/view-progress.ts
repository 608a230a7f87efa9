import { Presets, SingleBar } from 'cli-progress';
import type { ViewRef } from '../workflows/contracts.ts';
import type { GlobalOptions } from './global-options.ts';

/** What one progress report of a view shows: a bar position and a plain line. */
export interface ProgressFrame {
  /** The bar's position and end. */
  readonly value: number;
  readonly total: number;
  /** Values for the bar's `{placeholders}`. */
  readonly payload: Readonly<Record<string, string | number>>;
  /** The same progress as one plain line (without the view's name). */
  readonly line: string;
}

/** Where progress goes: bars (on stderr, cli-progress's default) or plain lines on `lines`. */
export interface ProgressOutput {
  readonly tty: boolean;
  readonly lines: NodeJS.WritableStream;
}

/**
 * Bars on a terminal; plain lines otherwise, on stdout, or on stderr with --json: stdout then
 * holds exactly one JSON document.
 */
export function progressOutput(options: Pick<GlobalOptions, 'json'>): ProgressOutput {
  return { tty: !options.json && process.stdout.isTTY === true, lines: options.json ? process.stderr : process.stdout };
}

/**
 * Progress of per-view workflows at a terminal: one bar per view on a TTY, else a plain line
 * each time a view's progress line changes (so logs stay short).
 *
 * @example
 *   const display = viewProgress<RebuildProgress>(progressOutput(options), '{value}/{total} partitions | {entities} entities', (p) => ({
 *     value: p.partitionsDone, total: p.partitions, payload: { entities: p.entitiesWritten }, line: `${p.partitionsDone}/${p.partitions} partitions`,
 *   }));
 *   await store.rebuildOnline(views, { wait: true, onProgress: display.update });
 *   display.stop();
 */
export function viewProgress<P>(output: ProgressOutput, barFormat: string, frame: (p: P) => ProgressFrame) {
  const bars = new Map<string, SingleBar>();
  const lastLine = new Map<string, string>();
  return {
    /** `key` names the line: a view version, or any label (`view v1 -> v2`). */
    update(key: ViewRef | string, p: P): void {
      const name = typeof key === 'string' ? key : `${key.view} v${key.version}`;
      const f = frame(p);
      if (!output.tty) {
        const line = `${name}: ${f.line}`;
        if (lastLine.get(name) !== line) output.lines.write(`${line}\n`);
        lastLine.set(name, line);
        return;
      }
      let bar = bars.get(name);
      if (!bar) {
        bar = new SingleBar({ format: `${name} [{bar}] ${barFormat}`, hideCursor: true }, Presets.shades_classic);
        bar.start(f.total, f.value, f.payload);
        bars.set(name, bar);
      }
      bar.setTotal(f.total);
      bar.update(f.value, f.payload);
    },
    stop(): void {
      for (const bar of bars.values()) bar.stop();
      bars.clear();
    },
  };
}
