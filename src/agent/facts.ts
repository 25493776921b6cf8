import { readFileSync } from 'node:fs';
import os from 'node:os';
import { KNOWN_CAPABILITIES } from '../domain/capabilities.js';
import type { AgentInfo } from '../domain/model.js';
import { VERSION } from '../lib/version.js';

/** What an agent says about its host in `agent_info`. */
export function hostFacts(
  name: string,
  labels: Record<string, string>,
  executors: string[],
  sshHosts: string[] = [],
): AgentInfo {
  const system = operatingSystem();
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
    ...system,
    ...(sshHosts.length ? { sshHosts } : {}),
    capabilities: [...KNOWN_CAPABILITIES],
  };
}

let cachedSystem: { os?: string; distro?: string } | undefined;

/** The OS by name, for AI command generation: Linux from os-release, others from what Node knows. */
function operatingSystem(): { os?: string; distro?: string } {
  if (cachedSystem) return cachedSystem;
  if (os.platform() === 'darwin') cachedSystem = { os: `macOS (Darwin ${os.release()})` };
  else if (os.platform() !== 'linux') cachedSystem = { os: os.version().slice(0, 255) };
  else {
    let text = '';
    for (const file of ['/etc/os-release', '/usr/lib/os-release']) {
      try {
        text = readFileSync(file, 'utf8');
        break;
      } catch {
        // try the next one
      }
    }
    const field = (key: string) =>
      new RegExp(`^${key}=("?)(.*)\\1$`, 'm').exec(text)?.[2]?.replace(/\\(.)/g, '$1').slice(0, 64);
    const name = field('PRETTY_NAME') ?? field('NAME');
    const distro = field('ID');
    cachedSystem = { ...(name ? { os: name } : {}), ...(distro ? { distro } : {}) };
  }
  return cachedSystem;
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
