import type { Plan } from '../domain/model.js';

const RISK_WORDS = { low: 'low', medium: 'MEDIUM', high: 'HIGH' } as const;

/** An AI plan as text: per OS family, the command, what it does, its risk and what could go wrong. */
export function planText(plan: Plan): string {
  const lines = [
    plan.mode === 'generate'
      ? `AI proposal (${plan.model}) for: ${plan.request ?? ''}`
      : `AI review (${plan.model}) of the command before it runs`,
  ];
  for (const p of plan.proposals) {
    const n = p.agents.length;
    lines.push(
      '',
      `  for ${p.os}`,
      `  on ${n} target${n === 1 ? '' : 's'}: ${p.agents.slice(0, 10).join(', ')}${n > 10 ? ', …' : ''}`,
      `  command:  ${p.command.replace(/\n/g, '\n            ')}`,
      `  risk:     ${RISK_WORDS[p.risk]}`,
      `  what:     ${p.explanation}`,
      ...p.risks.map((r, i) => `${i === 0 ? '  risks:    ' : '            '}- ${r}`),
    );
  }
  return `${lines.join('\n')}\n\n`;
}
