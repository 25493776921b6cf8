import os from 'node:os';
import type { AgentInfo } from '../domain/model.js';
import { VERSION } from '../lib/version.js';

/** What an agent says about its host in `agent_info`. */
export function hostFacts(name: string, labels: Record<string, string>, executors: string[]): AgentInfo {
  return {
    name,
    hostname: os.hostname(),
    platform: os.platform(),
    arch: os.arch(),
    release: os.release(),
    cpus: os.cpus().length,
    memoryBytes: os.totalmem(),
    uptimeS: Math.floor(os.uptime()),
    version: VERSION,
    labels,
    executors,
  };
}

/** The default agent name: the host name, cut to what agent names allow. */
export function defaultAgentName(): string {
  const cleaned = os
    .hostname()
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63);
  return cleaned || 'agent';
}
