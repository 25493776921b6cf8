import { Box, Text } from 'ink';
import { useRef } from 'react';
import type { LiveRun } from './live-job.js';
import RunRow from './RunRow.js';
import { useTheme } from './theme-context.js';

export interface RunListProps {
  /** Ordered as they are shown: problems, running, queued, succeeded. */
  runs: readonly LiveRun[];
  selectedId: string | null;
  /** Lines the list may take, the "more" line included. */
  height: number;
  width: number;
  nameWidth: number;
  now: number;
  pointer?: boolean;
  frozen?: boolean;
  /** What scrolling is called in the "more" line (none in the final summary). */
  scrollHint?: string;
}

/** As many rows as fit, scrolled to keep the selected one in view; the others as counts on one line. */
export default function RunList({
  runs,
  selectedId,
  height,
  width,
  nameWidth,
  now,
  pointer = true,
  frozen = false,
  scrollHint,
}: RunListProps) {
  const t = useTheme();
  const offset = useRef(0);
  if (height <= 0 || runs.length === 0) return null;
  const fits = runs.length <= height;
  const capacity = fits ? runs.length : Math.max(1, height - 1);
  const selected = selectedId === null ? -1 : runs.findIndex((r) => r.id === selectedId);
  let start = Math.min(offset.current, runs.length - capacity);
  if (selected >= 0 && selected < start) start = selected;
  if (selected >= start + capacity) start = selected - capacity + 1;
  offset.current = start = Math.max(0, start);
  const shown = runs.slice(start, start + capacity);
  return (
    <Box flexDirection="column" width={width}>
      {shown.map((run) => (
        <RunRow
          key={run.id}
          run={run}
          width={width}
          nameWidth={nameWidth}
          now={now}
          selected={run.id === selectedId}
          pointer={pointer}
          frozen={frozen}
        />
      ))}
      {fits ? null : (
        <Text wrap="truncate-end" dimColor={t.dim}>
          {moreText(runs, start, capacity, scrollHint)}
        </Text>
      )}
    </Box>
  );
}

/** `+985 more: 3 failed, 12 running, 970 succeeded (↑↓ scroll)` for the rows not shown. */
function moreText(runs: readonly LiveRun[], start: number, capacity: number, hint?: string): string {
  const counts = { failed: 0, cancelled: 0, running: 0, queued: 0, succeeded: 0 };
  runs.forEach((run, i) => {
    if (i >= start && i < start + capacity) return;
    if (run.status === 'succeeded') counts.succeeded++;
    else if (run.status === 'queued') counts.queued++;
    else if (run.status === 'running' || run.status === 'dispatched') counts.running++;
    else if (run.status === 'cancelled') counts.cancelled++;
    else counts.failed++;
  });
  const hidden = runs.length - capacity;
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([word, n]) => `${n} ${word}`);
  const where = start > 0 ? `${start} above, ${hidden - start} below` : '';
  return `  +${hidden} more: ${parts.join(', ')}${where ? ` (${where})` : ''}${hint ? ` · ${hint}` : ''}`;
}
