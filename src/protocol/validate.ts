/** A small schema checker for wire payloads: every field is checked, unknown fields are dropped. */

export class PayloadError extends Error {
  override name = 'PayloadError';
}

export type Check<T> = (value: unknown, path: string) => T;

const fail = (path: string, what: string): never => {
  throw new PayloadError(`${path} ${what}`);
};

export const str =
  (opts: { min?: number; max?: number; pattern?: RegExp } = {}): Check<string> =>
  (v, path) => {
    if (typeof v !== 'string') return fail(path, 'must be a string');
    if (v.length < (opts.min ?? 0)) return fail(path, `must have at least ${opts.min} characters`);
    if (v.length > (opts.max ?? 1_000_000)) return fail(path, `must have at most ${opts.max ?? 1_000_000} characters`);
    if (opts.pattern && !opts.pattern.test(v)) return fail(path, `has an invalid format`);
    return v;
  };

/** A string a process can take as an argument, an environment value or a directory: execve ends each at a NUL byte. */
export const processText =
  (opts: { min?: number; max: number; pattern?: RegExp }): Check<string> =>
  (v, path) => {
    const s = str(opts)(v, path);
    return s.includes('\0')
      ? fail(path, 'must not contain a NUL byte: no process argument, variable or path can hold one')
      : s;
  };

/** Output text: a string (of at most `max` characters), or its UTF-8 bytes as a binary attachment (at most `max` bytes). */
export const text =
  (opts: { max: number }): Check<string | Buffer> =>
  (v, path) => {
    if (Buffer.isBuffer(v)) {
      if (v.length > opts.max) return fail(path, `must have at most ${opts.max} bytes`);
      return v;
    }
    return str(opts)(v, path);
  };

export const int =
  (opts: { min?: number; max?: number } = {}): Check<number> =>
  (v, path) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) return fail(path, 'must be an integer');
    if (opts.min !== undefined && v < opts.min) return fail(path, `must be at least ${opts.min}`);
    if (opts.max !== undefined && v > opts.max) return fail(path, `must be at most ${opts.max}`);
    return v;
  };

export const bool: Check<boolean> = (v, path) => (typeof v === 'boolean' ? v : fail(path, 'must be a boolean'));

export const oneOf =
  <T extends string>(values: readonly T[]): Check<T> =>
  (v, path) =>
    typeof v === 'string' && (values as readonly string[]).includes(v)
      ? (v as T)
      : fail(path, `must be one of ${values.join(', ')}`);

export const nullable =
  <T>(check: Check<T>): Check<T | null> =>
  (v, path) =>
    v === null ? null : check(v, path);

export const optional =
  <T>(check: Check<T>): Check<T | undefined> =>
  (v, path) =>
    v === undefined ? undefined : check(v, path);

export const array =
  <T>(check: Check<T>, opts: { min?: number; max?: number } = {}): Check<T[]> =>
  (v, path) => {
    if (!Array.isArray(v)) return fail(path, 'must be an array');
    if (v.length < (opts.min ?? 0)) return fail(path, `must have at least ${opts.min} items`);
    if (v.length > (opts.max ?? 10_000)) return fail(path, `must have at most ${opts.max ?? 10_000} items`);
    return v.map((item, i) => check(item, `${path}[${i}]`));
  };

export const record =
  <T>(check: Check<T>, opts: { max?: number; key?: RegExp } = {}): Check<Record<string, T>> =>
  (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(path, 'must be an object');
    const entries = Object.entries(v);
    if (entries.length > (opts.max ?? 256)) return fail(path, `must have at most ${opts.max ?? 256} entries`);
    const out: Record<string, T> = {};
    for (const [k, item] of entries) {
      // `__proto__` would be dropped silently by the assignment below (or change the prototype): refused by name.
      if (k === '__proto__' || (opts.key && !opts.key.test(k))) fail(`${path}.${k}`, 'is not a valid key');
      out[k] = check(item, `${path}.${k}`);
    }
    return out;
  };

type Shape = Record<string, Check<unknown>>;
type Out<S extends Shape> = { [K in keyof S as undefined extends ReturnType<S[K]> ? never : K]: ReturnType<S[K]> } & {
  [K in keyof S as undefined extends ReturnType<S[K]> ? K : never]?: Exclude<ReturnType<S[K]>, undefined>;
};

export const object =
  <S extends Shape>(shape: S): Check<Out<S>> =>
  (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(path || 'payload', 'must be an object');
    const input = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, check] of Object.entries(shape)) {
      const value = check(input[key], path ? `${path}.${key}` : key);
      if (value !== undefined) out[key] = value;
    }
    return out as Out<S>;
  };

/** Parses or throws PayloadError with the path of the first bad field. */
export function parse<T>(check: Check<T>, value: unknown): T {
  return check(value, '');
}
