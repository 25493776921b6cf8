import { Box, Text } from 'ink';
import type { Counts } from './live-job.js';
import { useTheme } from './theme-context.js';

export interface ProgressBarProps {
  counts: Counts;
  width: number;
}

const MAX_BAR = 30;
const MIN_BAR = 8;

/**
 * `[██████░░░░] 6/10 · 5 succeeded · 1 failed · 3 running · 1 queued` (and `· N cancelled` once runs are); the bar goes
 * first on narrow terminals.
 */
export default function ProgressBar({ counts, width }: ProgressBarProps) {
  const t = useTheme();
  const { total, done, succeeded, failed, cancelled, running, queued } = counts;
  const long = `${done}/${total} done · ${succeeded} succeeded · ${failed} failed${cancelled ? ` · ${cancelled} cancelled` : ''} · ${running} running · ${queued} queued`;
  const short = `${done}/${total} ✔${succeeded} ✖${failed}${cancelled ? ` ⊘${cancelled}` : ''} ~${running} ·${queued}`;
  const words = width >= long.length + 2 + MIN_BAR + 1 ? long : short;
  const barWidth = Math.min(MAX_BAR, width - words.length - 3);
  const bar = barWidth >= MIN_BAR ? cells(counts, barWidth) : null;
  return (
    <Box width={width}>
      <Text wrap="truncate-end">
        {bar ? (
          <>
            [<Text color={t.ok}>{'█'.repeat(bar.ok)}</Text>
            <Text color={t.bad}>{'█'.repeat(bar.bad)}</Text>
            <Text dimColor={t.dim}>{'░'.repeat(bar.rest)}</Text>]{' '}
          </>
        ) : null}
        {words}
      </Text>
    </Box>
  );
}

function cells({ total, succeeded, failed: notOk, cancelled }: Counts, width: number) {
  if (total === 0) return { ok: 0, bad: 0, rest: width };
  const failed = notOk + cancelled;
  const done = Math.round(((succeeded + failed) / total) * width);
  const bad = Math.min(done, failed > 0 ? Math.max(1, Math.round((failed / total) * width)) : 0);
  return { ok: done - bad, bad, rest: width - done };
}
