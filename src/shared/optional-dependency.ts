import { createRequire } from 'node:module';

import { OpxError } from './errors.js';

/** An optional dependency a feature needs is not installed: names the package and how to get it. */
export class MissingOptionalDependency extends OpxError {
  static readonly code = 'opx.dependency.missing';

  constructor(
    readonly packageName: string,
    readonly neededFor: string,
    options?: { cause?: unknown },
  ) {
    super(MissingOptionalDependency.code, `${neededFor} needs the optional dependency '${packageName}', which is not installed (npm install ${packageName})`, options);
  }
}

const requireHere = createRequire(import.meta.url);

/**
 * A CommonJS package loaded when first used, not when this module is imported: constructing it,
 * calling it or reading a property loads it, and a missing package throws
 * {@link MissingOptionalDependency} naming it. So a host that never uses the feature never needs
 * the package (better-sqlite3 is compiled at install, and only a data dir uses it).
 */
export function optionalCommonJs<T extends object>(packageName: string, neededFor: string): T {
  let loaded: T | undefined;
  const load = (): T => {
    if (loaded !== undefined) return loaded;
    try {
      loaded = requireHere(packageName) as T;
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && (error as Error).message.includes(`'${packageName}'`);
      if (missing) throw new MissingOptionalDependency(packageName, neededFor, { cause: error });
      throw error;
    }
    return loaded;
  };
  // A function target, so the proxy can be constructed and called as the package's export can.
  return new Proxy(function optionalExport() {} as unknown as T, {
    construct: (_target, args: unknown[]): object => Reflect.construct(load() as unknown as new (...a: unknown[]) => object, args),
    apply: (_target, thisArg, args: unknown[]) => Reflect.apply(load() as unknown as (...a: unknown[]) => unknown, thisArg, args),
    get: (_target, key) => Reflect.get(load(), key),
  });
}
