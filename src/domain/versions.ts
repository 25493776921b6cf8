/**
 * The compatibility policy between a controller and the agents and clients that talk to it (README "Versions and
 * upgrades", docs/protocol.md §9). Pure.
 *
 * A controller accepts peers of its own major release whose minor release is at most one away: one back (the fleet
 * not upgraded yet) and one ahead (a peer upgraded before its controller, which knows the controller's protocol since
 * it was written one release after it). Farther apart, or another major release, is refused with what to upgrade.
 */

/** The first release, which announced no version on the wire: a peer that sends none runs it. */
export const FIRST_RELEASE = '0.1.0';

/** How many minor releases apart a controller and its peers may be. */
export const MINOR_WINDOW = 1;

export interface Version {
  major: number;
  minor: number;
  patch: number;
}

const SEMVER = /^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})(?:[-+][0-9A-Za-z.+-]{1,64})?$/;

/** `0.2.0`, `1.4.2-rc.1`: the numbers; undefined for anything else. */
export function parseVersion(text: string): Version | undefined {
  const m = SEMVER.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

/** Who is checked, for the message: an agent, a client, or either (an HTTP request, which both make). */
export type Peer = 'agent' | 'client' | 'program';

export type Compatibility = { ok: true } | { ok: false; code: 'version_unsupported'; message: string };

const line = (v: Version) => `${v.major}.${v.minor}`;

/**
 * Whether a controller running `own` accepts a `peer` (an agent or a client) that says it runs `announced`
 * (undefined: it said nothing, so it is the first release). The refusal names both versions and what to upgrade.
 */
export function compatibility(announced: string | undefined, own: string, peer: Peer): Compatibility {
  const theirs = parseVersion(announced ?? FIRST_RELEASE);
  const ours = parseVersion(own);
  if (!ours) throw new Error(`the controller's own version "${own}" is not a version`);
  if (!theirs) {
    const shown = JSON.stringify(String(announced).slice(0, 64));
    return refuse(`this ${peer} announces ogent version ${shown}, which is not a version (the controller runs ${own})`);
  }
  const distance =
    theirs.major === ours.major ? theirs.minor - ours.minor : Math.sign(theirs.major - ours.major) * Infinity;
  if (Math.abs(distance) <= MINOR_WINDOW) return { ok: true };
  const runs = `this ${peer} runs ogent ${announced ?? `${FIRST_RELEASE} (it announced no version)`}`;
  if (distance < 0) {
    const oldest = ours.minor >= MINOR_WINDOW ? `${ours.major}.${ours.minor - MINOR_WINDOW}` : line(ours);
    const it = peer === 'program' ? 'it' : `the ${peer}`;
    return refuse(
      `${runs}, which the controller (ogent ${own}) no longer accepts: upgrade ${it} to ogent ${oldest} or later`,
    );
  }
  return refuse(
    `${runs}, newer than the controller (ogent ${own}) accepts: upgrade the controller first, one minor release at a time`,
  );
}

function refuse(message: string): Compatibility {
  return { ok: false, code: 'version_unsupported', message };
}
