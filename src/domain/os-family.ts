import type { AgentInfo } from './model.js';

/** A group of targets that get the same generated command (README, AI command processing), and how to describe it to a model. */
export interface OsFamily {
  key: string;
  description: string;
}

export const SSH_FAMILY: OsFamily = {
  key: 'ssh',
  description: 'a host reached over SSH whose operating system is unknown (assume a POSIX shell and common tools)',
};

/** `linux/debian`, `darwin`, … from what an agent said about itself. Pure. */
export function osFamilyOf(info: AgentInfo | null): OsFamily {
  if (!info) return { key: 'unknown', description: 'an unknown operating system (assume a POSIX shell)' };
  const detail = `${info.platform} ${info.release}, ${info.arch}`;
  switch (info.platform) {
    case 'linux':
      return {
        key: `linux/${info.distro ?? 'unknown'}`,
        description: `${info.os ?? 'Linux (distribution unknown)'} (${detail})`,
      };
    case 'darwin':
      return { key: 'darwin', description: `${info.os ?? 'macOS'} (${detail})` };
    default:
      return { key: info.platform, description: `${info.os ?? info.platform} (${detail})` };
  }
}
