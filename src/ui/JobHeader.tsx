import { Box, Text } from 'ink';
import type { JobInfo, Phase } from './live-job.js';
import { displayLine, selectorText, shortDuration } from './text.js';
import { useTheme } from './theme-context.js';

export interface JobHeaderProps {
  job: JobInfo | null;
  phase: Phase;
  width: number;
  now: number;
}

/** Two lines: `job ID · SELECTOR · STATUS · ELAPSED`, then `$ COMMAND`. */
export default function JobHeader({ job, phase, width, now }: JobHeaderProps) {
  const t = useTheme();
  if (!job) {
    return (
      <Box flexDirection="column" width={width}>
        <Text wrap="truncate-end" bold={t.bold}>
          ogent: starting the job…
        </Text>
        <Text> </Text>
      </Box>
    );
  }
  const status = phase === 'detached' ? 'detached' : job.status;
  const tone = status === 'succeeded' ? t.ok : status === 'running' ? t.busy : status === 'detached' ? t.accent : t.bad;
  const elapsed = shortDuration((job.finishedAt ?? now) - job.createdAt);
  const command = displayLine(job.command.split('\n')[0] ?? '') + (job.command.includes('\n') ? ' …' : '');
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate-end">
        <Text bold={t.bold}>job {job.id}</Text> · {selectorText(job.target)} · <Text color={tone}>{status}</Text> ·{' '}
        {elapsed}
      </Text>
      <Text wrap="truncate-end" color={t.accent}>
        $ {command}
      </Text>
    </Box>
  );
}
