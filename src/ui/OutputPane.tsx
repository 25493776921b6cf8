import { Box, Text } from 'ink';
import type { LiveRun, OutputLine } from './live-job.js';
import { displayLine, fit } from './text.js';
import { useTheme } from './theme-context.js';

export interface OutputPaneProps {
  run: LiveRun;
  /** The last lines, as many as fit (`height - 1`). */
  lines: readonly OutputLine[];
  height: number;
  width: number;
  wide: boolean;
  /** Say which key widens it (not without a keyboard). */
  keys?: boolean;
}

/** The selected agent's live output under a title rule; stderr lines in red. */
export default function OutputPane({ run, lines, height, width, wide, keys = true }: OutputPaneProps) {
  const t = useTheme();
  if (height < 2) return null;
  const hint = keys ? (wide ? ' · enter: back' : ' · enter: widen') : '';
  const label = ` ${run.agent} · ${run.status.replace('_', ' ')}${hint} `;
  const title = `──${fit(label, Math.max(0, width - 2))}`.padEnd(width, '─');
  const shown = lines.slice(-(height - 1));
  return (
    <Box flexDirection="column" width={width}>
      <Text dimColor={t.dim}>{title}</Text>
      {shown.length === 0 ? (
        <Text dimColor={t.dim}>(no output yet)</Text>
      ) : (
        shown.map((line, i) => (
          <Text key={i} wrap="truncate-end" color={line.stream === 'stderr' ? t.bad : undefined}>
            {displayLine(line.text).slice(0, width + 1) || ' '}
          </Text>
        ))
      )}
    </Box>
  );
}
