/** A stored JSON document, or undefined for a missing key or field. */
export const parseJson = <T>(text: string | null | undefined): T | undefined =>
  text === null || text === undefined ? undefined : (JSON.parse(text) as T);

/** MULTI answers errors per command: the first one rejects the whole write. */
export function failed(results: Array<[Error | null, unknown]> | null): void {
  if (results === null) throw new Error('redis transaction aborted');
  for (const [err] of results) if (err) throw err;
}
